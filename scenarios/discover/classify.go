// Package discover maps a service's DNS dependencies: it classifies the
// names a recording holds by provider, region and service, from the public
// naming schemes of cloud endpoints, follows CNAME chains to where a name
// really lives, and scaffolds a scenario that fails exactly the names of
// one region, provider or service, replayable offline from the recording.
package discover

import (
	"regexp"
	"strings"
)

// Location is where a name lives.
type Location struct {
	Provider string `json:"provider"`          // AWS, GCP, Azure, Cloudflare, Fastly, Akamai, or the registered domain
	Region   string `json:"region,omitempty"`  // such as us-east-1; "global" for global endpoints; "" when unknown
	Service  string `json:"service,omitempty"` // such as dynamodb, s3, blob; "" when unknown
}

// Region patterns of each cloud.
var (
	awsRegion   = `(?:us|eu|ap|sa|ca|me|af|il|mx|cn)-(?:gov-|iso-|isob-)?(?:north|south|east|west|central|northeast|southeast|northwest|southwest)-\d`
	gcpRegion   = `(?:us|europe|asia|australia|northamerica|southamerica|me|africa)-(?:central|east|west|north|south|northeast|southeast|northwest|southwest)\d+`
	azureRegion = `(?:eastus2?|westus[23]?|centralus|northcentralus|southcentralus|westcentralus|canadacentral|canadaeast|brazilsouth|northeurope|westeurope|uksouth|ukwest|francecentral|francesouth|germanywestcentral|germanynorth|switzerlandnorth|norwayeast|swedencentral|polandcentral|italynorth|spaincentral|eastasia|southeastasia|japaneast|japanwest|koreacentral|koreasouth|centralindia|southindia|westindia|australiaeast|australiasoutheast|australiacentral|uaenorth|southafricanorth|qatarcentral|israelcentral|mexicocentral)`
)

// rule recognises one naming scheme: a pattern on the name without its
// trailing dot, whose named groups "region" and "service" fill the
// location.
type rule struct {
	re       *regexp.Regexp
	provider string
	region   string // fixed region, when the scheme implies one
	service  string // fixed service
}

func r(pattern, provider, region, service string) rule {
	return rule{regexp.MustCompile("^" + pattern + "$"), provider, region, service}
}

// rules are tried in order; the first that matches decides.
var rules = []rule{
	// AWS: the legacy global endpoints live in us-east-1.
	r(`(?:.+\.)?(?P<service>sts|iam|route53|organizations|support|cloudfront|waf|shield|globalaccelerator|budgets|ce|health)\.amazonaws\.com`, "AWS", "us-east-1", ""),
	r(`(?:.+\.)?(?P<service>organizations|route53|cloudfront|iam)\.us-east-1\.amazonaws\.com`, "AWS", "us-east-1", ""),
	// S3: path and virtual-hosted styles, dash and dot regions, dual-stack.
	r(`(?:.+\.)?s3\.(?:dualstack\.)?(?P<region>`+awsRegion+`)\.amazonaws\.com`, "AWS", "", "s3"),
	r(`(?:.+\.)?s3-(?P<region>`+awsRegion+`)\.amazonaws\.com`, "AWS", "", "s3"),
	r(`(?:.+\.)?s3-website[.-](?P<region>`+awsRegion+`)\.amazonaws\.com`, "AWS", "", "s3-website"),
	r(`(?:.+\.)?s3-accesspoint\.(?:dualstack\.)?(?P<region>`+awsRegion+`)\.amazonaws\.com`, "AWS", "", "s3"),
	r(`(?:.+\.)?s3(?:-external-1)?\.amazonaws\.com`, "AWS", "us-east-1", "s3"),
	// EC2 instance names: compute-1 is us-east-1.
	r(`ec2-[0-9-]+\.compute-1\.amazonaws\.com`, "AWS", "us-east-1", "ec2"),
	r(`ec2-[0-9-]+\.(?P<region>`+awsRegion+`)\.compute\.amazonaws\.com`, "AWS", "", "ec2"),
	r(`ip-[0-9-]+\.ec2\.internal`, "AWS", "us-east-1", "ec2"),
	r(`ip-[0-9-]+\.(?P<region>`+awsRegion+`)\.compute\.internal`, "AWS", "", "ec2"),
	// Load balancers, API Gateway, RDS, ElastiCache and other hostnames
	// that carry the region before amazonaws.com.
	r(`.+\.(?P<region>`+awsRegion+`)\.(?P<service>elb)\.amazonaws\.com`, "AWS", "", ""),
	r(`.+\.elb\.(?P<region>`+awsRegion+`)\.amazonaws\.com`, "AWS", "", "elb"),
	r(`.+\.(?P<service>execute-api|rds|es|aos|lambda-url|iot|eks|kafka|mq)\.(?P<region>`+awsRegion+`)\.amazonaws\.com`, "AWS", "", ""),
	r(`.+\.(?P<region>`+awsRegion+`)\.(?P<service>rds|es|eks)\.amazonaws\.com`, "AWS", "", ""),
	r(`.+\.(?P<region>use1|use2|usw1|usw2|euw1|euc1|apne1|apse1|apse2)\.cache\.amazonaws\.com`, "AWS", "", "elasticache"),
	// The general scheme: service.region.amazonaws.com, and *.region.api.aws.
	r(`(?:.+\.)?(?P<service>[a-z0-9-]+?)(?:-fips)?\.(?P<region>`+awsRegion+`)\.amazonaws\.com(?:\.cn)?`, "AWS", "", ""),
	r(`(?:.+\.)?(?P<service>[a-z0-9-]+)\.(?P<region>`+awsRegion+`)\.api\.aws`, "AWS", "", ""),
	r(`.+\.lambda-url\.(?P<region>`+awsRegion+`)\.on\.aws`, "AWS", "", "lambda"),
	r(`.+\.cloudfront\.net`, "AWS", "global", "cloudfront"),
	r(`.+\.awsglobalaccelerator\.com`, "AWS", "global", "globalaccelerator"),
	r(`(?:.+\.)?amazonaws\.com`, "AWS", "", ""),

	// Google Cloud: regional endpoints, Cloud Run, Cloud Functions.
	r(`(?P<region>`+gcpRegion+`)-(?P<service>[a-z0-9-]+)\.googleapis\.com`, "GCP", "", ""),
	r(`(?P<service>[a-z0-9-]+)\.(?P<region>`+gcpRegion+`)\.rep\.googleapis\.com`, "GCP", "", ""),
	r(`(?P<service>[a-z0-9-]+)\.googleapis\.com`, "GCP", "global", ""),
	r(`(?P<region>`+gcpRegion+`)-[a-z0-9-]+\.cloudfunctions\.net`, "GCP", "", "cloudfunctions"),
	r(`.+-(?P<region>uc|ue|uw|ew|an|as|ey|lz|nw|nn|df)\.a\.run\.app`, "GCP", "", "run"),
	r(`.+\.run\.app`, "GCP", "", "run"),
	r(`.+\.appspot\.com`, "GCP", "", "appengine"),
	r(`(?:.+\.)?(?:gcr\.io|pkg\.dev|storage\.googleapis\.com)`, "GCP", "global", ""),

	// Azure: regional hostnames, then the services' suffixes.
	r(`.+\.(?P<region>`+azureRegion+`)\.cloudapp\.azure\.com`, "Azure", "", "vm"),
	r(`.+\.(?P<region>`+azureRegion+`)\.azurecontainer\.io`, "Azure", "", "container-instances"),
	r(`.+\.(?P<region>`+azureRegion+`)\.azmk8s\.io`, "Azure", "", "aks"),
	r(`.+\.(?P<service>blob|queue|table|file|dfs|web)\.core\.windows\.net`, "Azure", "", ""),
	r(`.+\.(?P<service>database)\.windows\.net`, "Azure", "", ""),
	r(`.+\.(?P<service>servicebus)\.windows\.net`, "Azure", "", ""),
	r(`.+\.redis\.cache\.windows\.net`, "Azure", "", "redis"),
	r(`.+\.vault\.azure\.net`, "Azure", "", "keyvault"),
	r(`.+\.documents\.azure\.com`, "Azure", "", "cosmosdb"),
	r(`.+\.azurecr\.io`, "Azure", "", "acr"),
	r(`.+\.azurewebsites\.net`, "Azure", "", "appservice"),
	r(`.+\.(?:azureedge\.net|azurefd\.net)`, "Azure", "global", "cdn"),
	r(`.+\.trafficmanager\.net`, "Azure", "global", "trafficmanager"),
	r(`(?:.+\.)?(?:login\.microsoftonline\.com|management\.azure\.com|graph\.microsoft\.com)`, "Azure", "global", "entra"),

	// CDNs.
	r(`(?:.+\.)?(?:cdn\.cloudflare\.net|cloudflare\.net|cloudflare\.com|workers\.dev|pages\.dev)`, "Cloudflare", "global", "cdn"),
	r(`(?:.+\.)?(?:fastly\.net|fastlylb\.net)`, "Fastly", "global", "cdn"),
	r(`(?:.+\.)?(?:akamaiedge\.net|edgekey\.net|edgesuite\.net|akamai\.net|akamaihd\.net|akamaized\.net|akamaitechnologies\.com)`, "Akamai", "global", "cdn"),
}

// Classify returns where name (fully qualified or not) lives by its own
// form, without following CNAMEs.
func Classify(name string) Location {
	bare := strings.TrimSuffix(strings.ToLower(name), ".")
	for _, ru := range rules {
		m := ru.re.FindStringSubmatch(bare)
		if m == nil {
			continue
		}
		loc := Location{Provider: ru.provider, Region: ru.region, Service: ru.service}
		for i, group := range ru.re.SubexpNames() {
			switch group {
			case "region":
				loc.Region = gcpRunRegion(m[i])
			case "service":
				if loc.Service == "" {
					loc.Service = m[i]
				}
			}
		}
		return loc
	}
	return Location{Provider: RegisteredDomain(bare)}
}

// gcpRunRegion expands Cloud Run's region codes; other regions pass as
// they are.
func gcpRunRegion(code string) string {
	if region, ok := map[string]string{
		"uc": "us-central1", "ue": "us-east1", "uw": "us-west1", "ew": "europe-west1", "an": "asia-northeast1",
		"as": "asia-southeast1", "ey": "europe-west3", "lz": "europe-west2", "nw": "europe-north1", "nn": "northamerica-northeast1", "df": "asia-east1",
		"use1": "us-east-1", "use2": "us-east-2", "usw1": "us-west-1", "usw2": "us-west-2", "euw1": "eu-west-1",
		"euc1": "eu-central-1", "apne1": "ap-northeast-1", "apse1": "ap-southeast-1", "apse2": "ap-southeast-2",
	}[code]; ok {
		return region
	}
	return code
}

// twoLabelSuffixes are public suffixes of two labels, under which a
// registered domain has three.
var twoLabelSuffixes = map[string]bool{
	"co.uk": true, "org.uk": true, "ac.uk": true, "gov.uk": true, "com.au": true, "net.au": true, "org.au": true,
	"co.jp": true, "ne.jp": true, "co.nz": true, "com.br": true, "com.cn": true, "com.mx": true, "co.in": true,
	"co.za": true, "com.sg": true, "com.tr": true, "co.kr": true, "com.ar": true, "amazonaws.com.cn": true,
}

// RegisteredDomain returns the domain a name was registered under: its last
// two labels, or three under a known two-label public suffix.
func RegisteredDomain(name string) string {
	labels := strings.Split(strings.TrimSuffix(strings.ToLower(name), "."), ".")
	if len(labels) <= 2 {
		return strings.Join(labels, ".")
	}
	if twoLabelSuffixes[strings.Join(labels[len(labels)-2:], ".")] {
		return strings.Join(labels[len(labels)-3:], ".")
	}
	return strings.Join(labels[len(labels)-2:], ".")
}
