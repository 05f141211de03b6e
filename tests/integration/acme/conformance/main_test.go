// The cert-manager DNS-01 webhook conformance suite (package test/acme of cert-manager),
// driven against dnssync's HTTPS webhook.
//
// cert-manager's webhook-example runs this suite with an in-process Solver. Ours is a thin
// forwarder: each Present/CleanUp becomes the ChallengePayload POST that the kube-apiserver
// would send to dnssync's aggregated API, over HTTPS with the front-proxy client
// certificate. The suite starts its own kube-apiserver + etcd (envtest), checks the record
// on the DNS server it is given, and runs strict mode (two keys at one name; deleting one
// leaves the other).
//
// Environment (set by tests/integration/acme/interop/test_conformance.py):
//
//	DNSSYNC_WEBHOOK_URL   https://127.0.0.1:<port>/apis/<group>/v1alpha1/<solver>
//	DNSSYNC_WEBHOOK_CA    PEM of the CA that signed the webhook's serving certificate
//	DNSSYNC_CLIENT_CERT   PEM client certificate (front-proxy CA, allowed CN)
//	DNSSYNC_CLIENT_KEY    its key
//	TEST_ZONE_NAME        the zone, with trailing dot
//	TEST_DNS_SERVER       host:port of the authoritative server the suite queries
//	TEST_CHALLENGE_KEY    the first key (an ACME-shaped digest; the suite's default is not)
//	TEST_CHALLENGE_KEY2   a second digest, for TestStrictWithDigests
//	TEST_ASSET_KUBE_APISERVER, TEST_ASSET_ETCD, TEST_ASSET_KUBECTL   envtest's binaries
package conformance

import (
	"bytes"
	"context"
	"crypto/tls"
	"crypto/x509"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"os"
	"testing"
	"time"

	whapi "github.com/cert-manager/cert-manager/pkg/acme/webhook/apis/acme/v1alpha1"
	"github.com/cert-manager/cert-manager/pkg/issuer/acme/dns/util"
	acmetest "github.com/cert-manager/cert-manager/test/acme"
	"k8s.io/apimachinery/pkg/util/wait"
	restclient "k8s.io/client-go/rest"
)

// forwarder implements cert-manager's webhook.Solver by POSTing to dnssync.
type forwarder struct {
	url    string
	client *http.Client
}

func (f *forwarder) Name() string { return "dnssync" }

func (f *forwarder) Initialize(_ *restclient.Config, _ <-chan struct{}) error { return nil }

func (f *forwarder) Present(ch *whapi.ChallengeRequest) error {
	return f.send(whapi.ChallengeActionPresent, ch)
}

func (f *forwarder) CleanUp(ch *whapi.ChallengeRequest) error {
	return f.send(whapi.ChallengeActionCleanUp, ch)
}

func (f *forwarder) send(action whapi.ChallengeAction, ch *whapi.ChallengeRequest) error {
	req := *ch
	req.Action = action
	req.Type = "dns-01"
	body, err := json.Marshal(whapi.ChallengePayload{Request: &req})
	if err != nil {
		return err
	}
	httpReq, err := http.NewRequest(http.MethodPost, f.url, bytes.NewReader(body))
	if err != nil {
		return err
	}
	httpReq.Header.Set("Content-Type", "application/json")
	// What the kube-apiserver's front proxy adds after authenticating cert-manager.
	httpReq.Header.Set("X-Remote-User", "system:serviceaccount:cert-manager:cert-manager")
	resp, err := f.client.Do(httpReq)
	if err != nil {
		return err
	}
	defer resp.Body.Close()
	raw, err := io.ReadAll(resp.Body)
	if err != nil {
		return err
	}
	if resp.StatusCode != http.StatusOK && resp.StatusCode != http.StatusCreated {
		return fmt.Errorf("%s: HTTP %d: %s", action, resp.StatusCode, raw)
	}
	var answer whapi.ChallengePayload
	if err := json.Unmarshal(raw, &answer); err != nil {
		return fmt.Errorf("%s: unreadable answer %q: %w", action, raw, err)
	}
	if answer.Response == nil {
		return fmt.Errorf("%s: answer without response: %s", action, raw)
	}
	if !answer.Response.Success {
		msg := ""
		if answer.Response.Result != nil {
			msg = answer.Response.Result.Message
		}
		return fmt.Errorf("%s refused by dnssync: %s", action, msg)
	}
	return nil
}

func mustEnv(t *testing.T, name string) string {
	v := os.Getenv(name)
	if v == "" {
		t.Fatalf("%s is not set (run through the pytest interop tier)", name)
	}
	return v
}

func newForwarder(t *testing.T) *forwarder {
	pool := x509.NewCertPool()
	caPEM, err := os.ReadFile(mustEnv(t, "DNSSYNC_WEBHOOK_CA"))
	if err != nil || !pool.AppendCertsFromPEM(caPEM) {
		t.Fatalf("webhook CA unreadable: %v", err)
	}
	cert, err := tls.LoadX509KeyPair(mustEnv(t, "DNSSYNC_CLIENT_CERT"), mustEnv(t, "DNSSYNC_CLIENT_KEY"))
	if err != nil {
		t.Fatalf("client certificate unreadable: %v", err)
	}
	transport := &http.Transport{TLSClientConfig: &tls.Config{
		RootCAs:      pool,
		Certificates: []tls.Certificate{cert},
		MinVersion:   tls.VersionTLS12,
	}}
	return &forwarder{
		url:    mustEnv(t, "DNSSYNC_WEBHOOK_URL"),
		client: &http.Client{Transport: transport, Timeout: 60 * time.Second},
	}
}

func TestConformance(t *testing.T) {
	zone := mustEnv(t, "TEST_ZONE_NAME")
	fixture := acmetest.NewFixture(newForwarder(t),
		acmetest.SetResolvedZone(zone),
		// dnssync writes only at _acme-challenge names (the suite's default is another).
		acmetest.SetResolvedFQDN("_acme-challenge."+zone),
		acmetest.SetDNSChallengeKey(mustEnv(t, "TEST_CHALLENGE_KEY")),
		acmetest.SetAllowAmbientCredentials(false),
		acmetest.SetConfig(map[string]any{}),
		acmetest.SetDNSServer(mustEnv(t, "TEST_DNS_SERVER")),
		// On loopback the zone's NS names do not resolve to our port: ask the server given.
		acmetest.SetUseAuthoritative(false),
		acmetest.SetPollInterval(100*time.Millisecond),
		acmetest.SetPropagationLimit(30*time.Second),
		acmetest.SetStrict(true),
	)
	fixture.RunConformance(t)
}

// TestStrictWithDigests is the suite's strict-mode check (DeletingOneRecordRetainsOthers)
// with two digest-shaped keys: the suite's own second key, "anothertestingkey", is not
// one, and dnssync writes only RFC 8555 digests. Two keys at one name both resolve;
// deleting one leaves the other; a second CleanUp of a gone value succeeds.
func TestStrictWithDigests(t *testing.T) {
	f := newForwarder(t)
	zone := mustEnv(t, "TEST_ZONE_NAME")
	servers := []string{mustEnv(t, "TEST_DNS_SERVER")}
	ch := &whapi.ChallengeRequest{
		ResourceNamespace: "strict",
		ResolvedFQDN:      "_acme-challenge.strict." + zone,
		ResolvedZone:      zone,
		DNSName:           "strict." + zone,
		Key:               mustEnv(t, "TEST_CHALLENGE_KEY"),
	}
	ch2 := *ch
	ch2.Key = mustEnv(t, "TEST_CHALLENGE_KEY2")
	for _, c := range []*whapi.ChallengeRequest{ch, &ch2} {
		if err := f.Present(c); err != nil {
			t.Fatalf("Present: %v", err)
		}
	}
	served := func(key string, want bool) wait.ConditionWithContextFunc {
		return func(ctx context.Context) (bool, error) {
			ok, err := util.PreCheckDNS(ctx, ch.ResolvedFQDN, key, servers, false)
			return ok == want, err
		}
	}
	poll := func(what string, conds ...wait.ConditionWithContextFunc) {
		err := wait.PollUntilContextTimeout(t.Context(), 100*time.Millisecond, 30*time.Second, true,
			func(ctx context.Context) (bool, error) {
				for _, c := range conds {
					if ok, err := c(ctx); err != nil || !ok {
						return false, err
					}
				}
				return true, nil
			})
		if err != nil {
			t.Fatalf("%s: %v", what, err)
		}
	}
	poll("both keys served", served(ch.Key, true), served(ch2.Key, true))
	if err := f.CleanUp(&ch2); err != nil {
		t.Fatalf("CleanUp: %v", err)
	}
	poll("second key gone, first kept", served(ch2.Key, false), served(ch.Key, true))
	for i := 0; i < 2; i++ {
		if err := f.CleanUp(ch); err != nil {
			t.Fatalf("CleanUp #%d: %v", i+1, err)
		}
	}
	poll("first key gone", served(ch.Key, false))
}
