// Command ddbclient is a service's DynamoDB client, written as a service
// would write it with the AWS SDK for Go v2, replayed under dnsfault's
// bundled outage of October 2025. It resolves the regional endpoint through
// dnsfault ($DNSFAULT_ADDR) and talks to a local stand-in for DynamoDB on
// $DYNAMODB_PORT, calling GetItem every 20 ms and writing each call's
// start, end and outcome to $DNSFAULT_EVENTS, as docs/report.md asks. It
// stops after 5 good calls in a row in the scenario's last phase, or 60 s.
package main

import (
	"context"
	"encoding/json"
	"fmt"
	"net"
	"net/http"
	"os"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/credentials"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb/types"
)

func main() {
	// The endpoint's name is resolved by dnsfault, as a resolv.conf
	// pointing at it would have it; the port is the stand-in's.
	resolver := &net.Resolver{PreferGo: true, Dial: func(ctx context.Context, network, _ string) (net.Conn, error) {
		var d net.Dialer
		return d.DialContext(ctx, network, os.Getenv("DNSFAULT_ADDR"))
	}}
	dialer := &net.Dialer{Resolver: resolver, Timeout: 2 * time.Second}
	httpClient := &http.Client{Transport: &http.Transport{DialContext: dialer.DialContext}}
	ddb := dynamodb.New(dynamodb.Options{
		Region:       "us-east-1",
		Credentials:  credentials.NewStaticCredentialsProvider("AKIDEXAMPLE", "secret", ""),
		BaseEndpoint: aws.String("http://dynamodb.us-east-1.amazonaws.com:" + os.Getenv("DYNAMODB_PORT")),
		HTTPClient:   httpClient,
	})
	events, err := os.OpenFile(os.Getenv("DNSFAULT_EVENTS"), os.O_WRONLY|os.O_APPEND, 0)
	if err != nil {
		fmt.Fprintln(os.Stderr, "ddbclient:", err)
		os.Exit(2)
	}
	defer events.Close()
	enc := json.NewEncoder(events)
	good := 0
	for end := time.Now().Add(60 * time.Second); time.Now().Before(end); time.Sleep(20 * time.Millisecond) {
		start := time.Now()
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		_, err := ddb.GetItem(ctx, &dynamodb.GetItemInput{
			TableName: aws.String("orders"),
			Key:       map[string]types.AttributeValue{"id": &types.AttributeValueMemberS{Value: "42"}},
		})
		cancel()
		line := map[string]any{"ok": err == nil, "start": start, "end": time.Now()}
		if err != nil {
			line["error"] = err.Error()
		}
		enc.Encode(line)
		switch {
		case err != nil:
			good = 0
		case lastPhase():
			if good++; good >= 5 {
				return
			}
		}
	}
	fmt.Fprintln(os.Stderr, "ddbclient: the timeline never reached its last phase")
	os.Exit(1)
}

// lastPhase asks dnsfault's control API whether the timeline is in its
// last phase.
func lastPhase() bool {
	resp, err := http.Get("http://" + os.Getenv("DNSFAULT_CONTROL") + "/v1/status")
	if err != nil {
		return false
	}
	defer resp.Body.Close()
	var st struct {
		PhaseIndex int        `json:"phase_index"`
		Phases     []struct{} `json:"phases"`
		Timeline   string     `json:"timeline"`
	}
	return json.NewDecoder(resp.Body).Decode(&st) == nil && st.Timeline == "running" && st.PhaseIndex == len(st.Phases)-1
}
