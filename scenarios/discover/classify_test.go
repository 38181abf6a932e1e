package discover_test

import (
	"testing"

	"github.com/stretchr/testify/assert"

	"github.com/dnsfault/dnsfault/scenarios/discover"
)

// catalogue is real endpoint names and where they live.
var catalogue = []struct {
	name                      string
	provider, region, service string
}{
	// AWS: regional endpoints, service.region.amazonaws.com
	{"dynamodb.us-east-1.amazonaws.com", "AWS", "us-east-1", "dynamodb"},
	{"dynamodb.eu-west-1.amazonaws.com.", "AWS", "eu-west-1", "dynamodb"},
	{"sqs.us-west-2.amazonaws.com", "AWS", "us-west-2", "sqs"},
	{"sns.ap-southeast-2.amazonaws.com", "AWS", "ap-southeast-2", "sns"},
	{"kinesis.eu-central-1.amazonaws.com", "AWS", "eu-central-1", "kinesis"},
	{"lambda.us-east-2.amazonaws.com", "AWS", "us-east-2", "lambda"},
	{"secretsmanager.ca-central-1.amazonaws.com", "AWS", "ca-central-1", "secretsmanager"},
	{"ssm.me-south-1.amazonaws.com", "AWS", "me-south-1", "ssm"},
	{"sts.us-east-1.amazonaws.com", "AWS", "us-east-1", "sts"},
	{"ec2.sa-east-1.amazonaws.com", "AWS", "sa-east-1", "ec2"},
	{"dynamodb-fips.us-gov-west-1.amazonaws.com", "AWS", "us-gov-west-1", "dynamodb"},
	{"logs.ap-northeast-1.amazonaws.com", "AWS", "ap-northeast-1", "logs"},
	{"bedrock-runtime.us-west-2.amazonaws.com", "AWS", "us-west-2", "bedrock-runtime"},
	{"s3.cn-north-1.amazonaws.com.cn", "AWS", "cn-north-1", "s3"},
	// AWS: dual-stack endpoints
	{"dynamodb.us-east-1.api.aws", "AWS", "us-east-1", "dynamodb"},
	{"sqs.eu-west-2.api.aws", "AWS", "eu-west-2", "sqs"},
	// AWS: the legacy global endpoints live in us-east-1
	{"sts.amazonaws.com", "AWS", "us-east-1", "sts"},
	{"iam.amazonaws.com", "AWS", "us-east-1", "iam"},
	{"route53.amazonaws.com", "AWS", "us-east-1", "route53"},
	{"cloudfront.amazonaws.com", "AWS", "us-east-1", "cloudfront"},
	{"organizations.us-east-1.amazonaws.com", "AWS", "us-east-1", "organizations"},
	{"support.us-east-1.amazonaws.com", "AWS", "us-east-1", "support"},
	// AWS: S3 forms
	{"s3.amazonaws.com", "AWS", "us-east-1", "s3"},
	{"my-bucket.s3.amazonaws.com", "AWS", "us-east-1", "s3"},
	{"my-bucket.s3.us-west-2.amazonaws.com", "AWS", "us-west-2", "s3"},
	{"my-bucket.s3-eu-west-1.amazonaws.com", "AWS", "eu-west-1", "s3"},
	{"s3.dualstack.ap-south-1.amazonaws.com", "AWS", "ap-south-1", "s3"},
	{"my-bucket.s3.dualstack.eu-west-3.amazonaws.com", "AWS", "eu-west-3", "s3"},
	{"my-bucket.s3-website-us-east-1.amazonaws.com", "AWS", "us-east-1", "s3-website"},
	{"my-bucket.s3-website.eu-north-1.amazonaws.com", "AWS", "eu-north-1", "s3-website"},
	{"s3-external-1.amazonaws.com", "AWS", "us-east-1", "s3"},
	// AWS: hostnames of resources
	{"ec2-54-12-3-4.compute-1.amazonaws.com", "AWS", "us-east-1", "ec2"},
	{"ec2-3-8-1-2.eu-west-2.compute.amazonaws.com", "AWS", "eu-west-2", "ec2"},
	{"ip-10-0-1-5.ec2.internal", "AWS", "us-east-1", "ec2"},
	{"ip-10-0-1-5.eu-west-1.compute.internal", "AWS", "eu-west-1", "ec2"},
	{"my-lb-123456.us-east-1.elb.amazonaws.com", "AWS", "us-east-1", "elb"},
	{"my-nlb-abc.elb.us-west-2.amazonaws.com", "AWS", "us-west-2", "elb"},
	{"abc123.execute-api.us-east-1.amazonaws.com", "AWS", "us-east-1", "execute-api"},
	{"mydb.abcdefg.us-east-1.rds.amazonaws.com", "AWS", "us-east-1", "rds"},
	{"cache.abc.ng.0001.use1.cache.amazonaws.com", "AWS", "us-east-1", "elasticache"},
	{"abcdef.lambda-url.eu-west-1.on.aws", "AWS", "eu-west-1", "lambda"},
	{"d111111abcdef8.cloudfront.net", "AWS", "global", "cloudfront"},
	{"a1234.awsglobalaccelerator.com", "AWS", "global", "globalaccelerator"},
	// Google Cloud
	{"storage.googleapis.com", "GCP", "global", "storage"},
	{"pubsub.googleapis.com", "GCP", "global", "pubsub"},
	{"us-central1-aiplatform.googleapis.com", "GCP", "us-central1", "aiplatform"},
	{"europe-west4-run.googleapis.com", "GCP", "europe-west4", "run"},
	{"spanner.us-east4.rep.googleapis.com", "GCP", "us-east4", "spanner"},
	{"us-central1-myproject.cloudfunctions.net", "GCP", "us-central1", "cloudfunctions"},
	{"myservice-abc123-uc.a.run.app", "GCP", "us-central1", "run"},
	{"myservice-abc123-ew.a.run.app", "GCP", "europe-west1", "run"},
	{"myproject.appspot.com", "GCP", "", "appengine"},
	{"europe-docker.pkg.dev", "GCP", "global", ""},
	// Azure
	{"myvm.eastus.cloudapp.azure.com", "Azure", "eastus", "vm"},
	{"myvm.westeurope.cloudapp.azure.com", "Azure", "westeurope", "vm"},
	{"myaccount.blob.core.windows.net", "Azure", "", "blob"},
	{"myaccount.queue.core.windows.net", "Azure", "", "queue"},
	{"myserver.database.windows.net", "Azure", "", "database"},
	{"myns.servicebus.windows.net", "Azure", "", "servicebus"},
	{"mycache.redis.cache.windows.net", "Azure", "", "redis"},
	{"myvault.vault.azure.net", "Azure", "", "keyvault"},
	{"myapp.azurewebsites.net", "Azure", "", "appservice"},
	{"mycosmos.documents.azure.com", "Azure", "", "cosmosdb"},
	{"myregistry.azurecr.io", "Azure", "", "acr"},
	{"myaks-dns-abc.hcp.northeurope.azmk8s.io", "Azure", "northeurope", "aks"},
	{"myendpoint.azureedge.net", "Azure", "global", "cdn"},
	{"myfd.azurefd.net", "Azure", "global", "cdn"},
	{"login.microsoftonline.com", "Azure", "global", "entra"},
	// CDNs
	{"www.example.com.cdn.cloudflare.net", "Cloudflare", "global", "cdn"},
	{"myworker.example.workers.dev", "Cloudflare", "global", "cdn"},
	{"dualstack.example.map.fastly.net", "Fastly", "global", "cdn"},
	{"example.global.ssl.fastly.net", "Fastly", "global", "cdn"},
	{"www.example.com.edgekey.net", "Akamai", "global", "cdn"},
	{"e1234.a.akamaiedge.net", "Akamai", "global", "cdn"},
	{"a1.g.akamai.net", "Akamai", "global", "cdn"},
	// Everything else: by registered domain
	{"api.stripe.com", "stripe.com", "", ""},
	{"www.bbc.co.uk", "bbc.co.uk", "", ""},
	{"example.com", "example.com", "", ""},
}

func TestClassifyTheCatalogue(t *testing.T) {
	if len(catalogue) < 60 {
		t.Fatalf("the catalogue should hold at least 60 names, it holds %d", len(catalogue))
	}
	for _, tc := range catalogue {
		t.Run(tc.name, func(t *testing.T) {
			assert.Equal(t, discover.Location{Provider: tc.provider, Region: tc.region, Service: tc.service}, discover.Classify(tc.name))
		})
	}
}
