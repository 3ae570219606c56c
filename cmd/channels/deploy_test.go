package main

import (
	"io"
	"log/slog"
	"net"
	"net/netip"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"testing"

	"github.com/gin-gonic/gin"
	"gopkg.in/yaml.v3"

	"github.com/govchannels/channels/gateway"
)

// composeFile is the part of deploy/compose.yaml the checks read.
type composeFile struct {
	Services map[string]struct {
		Image       string            `yaml:"image"`
		Command     []string          `yaml:"command"`
		Environment map[string]string `yaml:"environment"`
		Ports       []string          `yaml:"ports"`
		Secrets     []string          `yaml:"secrets"`
		Volumes     []string          `yaml:"volumes"`
	} `yaml:"services"`
	Secrets  map[string]struct{ File string } `yaml:"secrets"`
	Networks map[string]struct {
		IPAM struct {
			Config []struct{ Subnet string } `yaml:"config"`
		} `yaml:"ipam"`
	} `yaml:"networks"`
}

// prometheusFile is the part of deploy/prometheus.yml the checks read.
type prometheusFile struct {
	RuleFiles     []string `yaml:"rule_files"`
	ScrapeConfigs []struct {
		JobName       string `yaml:"job_name"`
		MetricsPath   string `yaml:"metrics_path"`
		Authorization struct {
			Type            string `yaml:"type"`
			CredentialsFile string `yaml:"credentials_file"`
		} `yaml:"authorization"`
		StaticConfigs []struct {
			Targets []string `yaml:"targets"`
		} `yaml:"static_configs"`
	} `yaml:"scrape_configs"`
}

type rulesFile struct {
	Groups []struct {
		Rules []struct {
			Alert string `yaml:"alert"`
			Expr  string `yaml:"expr"`
		} `yaml:"rules"`
	} `yaml:"groups"`
}

func readYAML(t *testing.T, name string, v any) {
	t.Helper()
	b, err := os.ReadFile(filepath.Join("..", "..", "deploy", name))
	if err != nil {
		t.Fatal(err)
	}
	if err := yaml.Unmarshal(b, v); err != nil {
		t.Fatalf("%s: %v", name, err)
	}
}

// envFlag returns the flag an environment variable sets, and whether the
// variable names a file holding a secret flag's value (…_FILE).
func envFlag(env string) (flag string, file bool) {
	for f, e := range envNames {
		if e == env {
			return f, false
		}
	}
	for f, e := range envNames {
		if e+"_FILE" == env && slices.Contains(secretFlags, f) {
			return f, true
		}
	}
	return "", false
}

// TestDeployExample holds deploy/compose.yaml, prometheus.yml and
// alerts.yml to the binary, since Docker does not run where the tests
// do: every variable and flag the compose file gives a channels server
// exists, every file it names is a secret the service mounts, Prometheus
// scrapes every channels server at the port it listens on with the token
// the servers read and from the addresses they allow, and every metric an
// alert rule reads is one the server serves.
func TestDeployExample(t *testing.T) {
	var compose composeFile
	var prom prometheusFile
	var rules rulesFile
	readYAML(t, "compose.yaml", &compose)
	readYAML(t, "prometheus.yml", &prom)
	readYAML(t, "alerts.yml", &rules)

	var subnets []netip.Prefix
	for _, n := range compose.Networks {
		for _, c := range n.IPAM.Config {
			p, err := netip.ParsePrefix(c.Subnet)
			if err != nil {
				t.Fatalf("network subnet %q: %v", c.Subnet, err)
			}
			subnets = append(subnets, p)
		}
	}
	ports := map[string]string{} // channels service → port it listens on
	tokenSecrets := map[string]bool{}
	for name, svc := range compose.Services {
		if svc.Image != "channels:local" {
			continue
		}
		t.Run(name, func(t *testing.T) {
			if len(svc.Command) == 0 || svc.Command[0] != "serve" {
				t.Errorf("command %v, want serve", svc.Command)
			}
			fs := newFlagSet("serve")
			var cfg config
			cfg.flags(fs)
			for _, arg := range svc.Command[1:] {
				if f, ok := strings.CutPrefix(arg, "-"); ok {
					if f, _, _ = strings.Cut(strings.TrimPrefix(f, "-"), "="); fs.Lookup(f) == nil {
						t.Errorf("flag -%s does not exist", f)
					}
				}
			}
			for env, v := range svc.Environment {
				flag, file := envFlag(env)
				if flag == "" {
					t.Errorf("%s is not a variable of channels serve", env)
					continue
				}
				if file || strings.HasSuffix(flag, "-file") {
					secret, ok := strings.CutPrefix(v, "/run/secrets/")
					if !ok || !slices.Contains(svc.Secrets, secret) || compose.Secrets[secret].File == "" {
						t.Errorf("%s=%s is no secret the service mounts", env, v)
					}
				}
				switch flag {
				case "addr":
					_, port, err := net.SplitHostPort(v)
					if err != nil {
						t.Errorf("%s=%q: %v", env, v, err)
					}
					ports[name] = port
				case "metrics-token-file":
					tokenSecrets[strings.TrimPrefix(v, "/run/secrets/")] = true
				case "metrics-allow":
					allow, err := gateway.ParseAllow(v)
					if err != nil {
						t.Fatal(err)
					}
					for _, s := range subnets {
						if !slices.ContainsFunc(allow, func(p netip.Prefix) bool { return p.Bits() <= s.Bits() && p.Contains(s.Addr()) }) {
							t.Errorf("%s=%s does not allow the network %s Prometheus scrapes from", env, v, s)
						}
					}
				}
			}
			if ports[name] == "" {
				t.Error("no CHANNELS_ADDR: the scrape target's port is unknown")
			}
		})
	}
	if len(ports) < 2 {
		t.Fatalf("%d channels servers in the compose file, want two", len(ports))
	}

	t.Run("scrape", func(t *testing.T) {
		if len(prom.ScrapeConfigs) != 1 {
			t.Fatalf("%d scrape configs, want one", len(prom.ScrapeConfigs))
		}
		sc := prom.ScrapeConfigs[0]
		if sc.MetricsPath != "/metrics" || sc.Authorization.Type != "Bearer" {
			t.Errorf("scrape of %s with %s, want /metrics with Bearer", sc.MetricsPath, sc.Authorization.Type)
		}
		secret, _ := strings.CutPrefix(sc.Authorization.CredentialsFile, "/run/secrets/")
		if !tokenSecrets[secret] || len(tokenSecrets) != 1 || !slices.Contains(compose.Services["prometheus"].Secrets, secret) {
			t.Errorf("Prometheus reads its token from %s, the servers from %v", sc.Authorization.CredentialsFile, tokenSecrets)
		}
		scraped := map[string]bool{}
		for _, s := range sc.StaticConfigs {
			for _, target := range s.Targets {
				host, port, err := net.SplitHostPort(target)
				if err != nil || ports[host] != port {
					t.Errorf("target %s: no channels server %s listens on port %s", target, host, port)
				}
				scraped[host] = true
			}
		}
		for name := range ports {
			if !scraped[name] {
				t.Errorf("%s is not scraped", name)
			}
		}
		for _, f := range prom.RuleFiles {
			if !slices.ContainsFunc(compose.Services["prometheus"].Volumes, func(v string) bool { return strings.HasPrefix(v, "./alerts.yml:"+f) }) {
				t.Errorf("rule file %s is not alerts.yml mounted in the Prometheus container", f)
			}
		}
	})

	t.Run("alert rules", func(t *testing.T) {
		gin.SetMode(gin.TestMode)
		cfg := defaultConfig()
		dir := t.TempDir()
		cfg.Data, cfg.AdminSocket = filepath.Join(dir, "channels.db"), filepath.Join(dir, "admin.sock")
		srv, err := newServer(cfg, slog.New(slog.DiscardHandler), io.Discard)
		if err != nil {
			t.Fatal(err)
		}
		defer srv.Close()
		names, err := srv.metrics.Names()
		if err != nil {
			t.Fatal(err)
		}
		metric := regexp.MustCompile(`\bchannels_[a-z0-9_]+\b`)
		n := 0
		for _, g := range rules.Groups {
			for _, r := range g.Rules {
				n++
				for _, name := range metric.FindAllString(r.Expr, -1) {
					base := name
					for _, suffix := range []string{"_bucket", "_count", "_sum"} {
						if b, ok := strings.CutSuffix(name, suffix); ok && slices.Contains(names, b) {
							base = b
						}
					}
					if !slices.Contains(names, base) {
						t.Errorf("alert %s reads %s, which the server does not serve", r.Alert, name)
					}
				}
			}
		}
		if n == 0 {
			t.Fatal("no alert rule")
		}
	})

	t.Run("promtool", func(t *testing.T) {
		promtool, err := exec.LookPath("promtool")
		if err != nil {
			t.Skip("promtool is not installed (Debian package prometheus): the rules' PromQL is not parsed")
		}
		if out, err := exec.Command(promtool, "check", "rules", filepath.Join("..", "..", "deploy", "alerts.yml")).CombinedOutput(); err != nil {
			t.Errorf("promtool check rules: %v\n%s", err, out)
		}
	})
}

// TestHopRoutes: with every gateway on, each route counted as a hop is
// mounted, so that a route renamed in its package cannot silently drop
// out of channels_hops_total; and every mounted route of a dialect's
// inbound path is counted.
func TestHopRoutes(t *testing.T) {
	gin.SetMode(gin.TestMode)
	dir := t.TempDir()
	args := append(append(slices.Clone(twilioArgs), kannelArgs...), "-sms-sender", "twilio", "-kannel-ussd", "-at-secret", "atSecret1234567890",
		"-data", filepath.Join(dir, "channels.db"), "-admin-socket", filepath.Join(dir, "admin.sock"))
	var cfg config
	fs := newFlagSet("serve")
	cfg.flags(fs)
	if err := cfg.parse(fs, args); err != nil {
		t.Fatal(err)
	}
	srv, err := newServer(cfg, slog.New(slog.DiscardHandler), io.Discard)
	if err != nil {
		t.Fatal(err)
	}
	defer srv.Close()
	mounted := map[string]bool{}
	for _, r := range srv.router.Routes() {
		mounted[r.Method+" "+r.Path] = true
	}
	counted := map[string]bool{}
	for _, h := range hopRoutes {
		counted[h.method+" "+h.path] = true
		if !mounted[h.method+" "+h.path] {
			t.Errorf("hop route %s %s is not mounted", h.method, h.path)
		}
	}
	for route := range mounted {
		_, path, _ := strings.Cut(route, " ")
		inbound := strings.HasPrefix(path, "/ussd/") || (strings.HasPrefix(path, "/sms/") && !strings.HasSuffix(path, "/status") && !strings.HasSuffix(path, "/dlr"))
		if inbound && !counted[route] {
			t.Errorf("gateway route %s is not counted as a hop", route)
		}
	}
}
