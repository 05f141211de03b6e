// A cert-manager controller for the real-apiserver tier, built from cert-manager's own
// controller packages.
//
// cert-manager's cmd/controller is a Go module of its own that is not published on the Go
// module proxy (only github.com/cert-manager/cert-manager is), so this small main stands in
// for its command line: it builds cert-manager's ContextFactory and runs the control loops
// an ACME Certificate needs -- exactly cert-manager's code from pkg/controller/..., nothing
// re-implemented. The module path sits under github.com/cert-manager/cert-manager so that
// cert-manager's internal packages may be imported, as cmd/controller does.
//
// Flags keep the names of cert-manager's controller where one exists (--kubeconfig,
// --cluster-resource-namespace, --dns01-recursive-nameservers,
// --dns01-recursive-nameservers-only, --dns01-check-retry-period, --max-concurrent-challenges).
// Leader election is never run: one controller, out of cluster.
package main

import (
	"context"
	"flag"
	"fmt"
	"os"
	"os/signal"
	"sort"
	"strings"
	"syscall"
	"time"

	"golang.org/x/sync/errgroup"
	"k8s.io/klog/v2"

	"github.com/cert-manager/cert-manager/pkg/controller"
	logf "github.com/cert-manager/cert-manager/pkg/logs"

	_ "github.com/cert-manager/cert-manager/internal/controller/feature"
	_ "github.com/cert-manager/cert-manager/pkg/controller/acmechallenges"
	_ "github.com/cert-manager/cert-manager/pkg/controller/acmeorders"
	_ "github.com/cert-manager/cert-manager/pkg/controller/certificaterequests/acme"
	_ "github.com/cert-manager/cert-manager/pkg/controller/certificaterequests/approver"
	_ "github.com/cert-manager/cert-manager/pkg/controller/certificates/issuing"
	_ "github.com/cert-manager/cert-manager/pkg/controller/certificates/keymanager"
	_ "github.com/cert-manager/cert-manager/pkg/controller/certificates/readiness"
	_ "github.com/cert-manager/cert-manager/pkg/controller/certificates/requestmanager"
	_ "github.com/cert-manager/cert-manager/pkg/controller/certificates/revisionmanager"
	_ "github.com/cert-manager/cert-manager/pkg/controller/certificates/trigger"
	_ "github.com/cert-manager/cert-manager/pkg/controller/clusterissuers"
	_ "github.com/cert-manager/cert-manager/pkg/issuer/acme"
)

type options struct {
	kubeconfig, clusterNamespace, nameservers string
	nameserversOnly                           bool
	checkRetry                                time.Duration
	maxChallenges, workers                    int
}

func parse() options {
	var o options
	flag.StringVar(&o.kubeconfig, "kubeconfig", "", "kubeconfig of the cluster")
	flag.StringVar(&o.clusterNamespace, "cluster-resource-namespace", "cert-manager",
		"namespace of the Secrets that ClusterIssuers refer to")
	flag.StringVar(&o.nameservers, "dns01-recursive-nameservers", "",
		"comma-separated host:port list for the DNS-01 self-check")
	flag.BoolVar(&o.nameserversOnly, "dns01-recursive-nameservers-only", false,
		"self-check only against --dns01-recursive-nameservers")
	flag.DurationVar(&o.checkRetry, "dns01-check-retry-period", 10*time.Second,
		"time between two DNS-01 self-checks")
	flag.IntVar(&o.maxChallenges, "max-concurrent-challenges", 60, "challenges processed at once")
	flag.IntVar(&o.workers, "concurrent-workers", 5, "workers per control loop")
	klog.InitFlags(nil)
	flag.Parse()
	return o
}

func contextFactory(ctx context.Context, o options) (*controller.ContextFactory, error) {
	var nameservers []string
	if o.nameservers != "" {
		nameservers = strings.Split(o.nameservers, ",")
	}
	return controller.NewContextFactory(ctx, controller.ContextOptions{
		Kubeconfig:         o.kubeconfig,
		KubernetesAPIQPS:   50,
		KubernetesAPIBurst: 100,
		IssuerOptions:      controller.IssuerOptions{ClusterResourceNamespace: o.clusterNamespace},
		ACMEOptions: controller.ACMEOptions{
			DNS01Nameservers:        nameservers,
			DNS01CheckAuthoritative: !o.nameserversOnly,
			DNS01CheckRetryPeriod:   o.checkRetry,
		},
		SchedulerOptions: controller.SchedulerOptions{MaxConcurrentChallenges: o.maxChallenges},
		CertificateOptions: controller.CertificateOptions{
			CertificateRequestMinimumBackoffDuration: time.Hour,
			CertificateRequestMaximumBackoffDuration: 32 * time.Hour,
		},
	})
}

func run(o options) error {
	ctx, stop := signal.NotifyContext(context.Background(), syscall.SIGINT, syscall.SIGTERM)
	defer stop()
	ctx = logf.NewContext(ctx, klog.Background(), "cert-manager-controller")
	factory, err := contextFactory(ctx, o)
	if err != nil {
		return err
	}
	base, err := factory.Build()
	if err != nil {
		return err
	}
	g, ctx := errgroup.WithContext(ctx)
	names := make([]string, 0, len(controller.Known()))
	for name, construct := range controller.Known() {
		loop, err := construct(factory)
		if err != nil {
			return fmt.Errorf("controller %s: %w", name, err)
		}
		names = append(names, name)
		g.Go(func() error { return loop.Run(o.workers, ctx) })
	}
	sort.Strings(names)
	klog.InfoS("control loops started", "controllers", names)
	base.SharedInformerFactory.Start(ctx.Done())
	base.KubeSharedInformerFactory.Start(ctx.Done())
	base.HTTP01ResourceMetadataInformersFactory.Start(ctx.Done())
	return g.Wait()
}

func main() {
	if err := run(parse()); err != nil {
		fmt.Fprintln(os.Stderr, "cert-manager controller:", err)
		os.Exit(1)
	}
}
