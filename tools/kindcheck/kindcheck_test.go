package kindcheck

import (
	"bufio"
	"bytes"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"testing"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	kubeadm "k8s.io/kubernetes/cmd/kubeadm/app/apis/kubeadm/v1beta4"
	kind "sigs.k8s.io/kind/pkg/apis/config/v1alpha4"
	"sigs.k8s.io/yaml"
)

const root = "../.."

// knobs are scripts/kind-up's flags by the kubeadm component they patch.
var knobs = map[string][]string{
	"apiServer":         {"--max-requests-inflight", "--max-mutating-requests-inflight"},
	"controllerManager": {"--concurrent-cron-job-syncs", "--concurrent-job-syncs", "--kcm-api-qps", "--kcm-api-burst"},
	"scheduler":         {"--scheduler-api-qps", "--scheduler-api-burst"},
}

var components = []string{"apiServer", "controllerManager", "scheduler"}

// spreadConfig is the shipped scheduler configuration, as kind-up's --scheduler-config takes it.
var spreadConfig = filepath.Join(root, "configs/scheduler-spread.yaml")

// kindUpArgs lists one argument list per configuration kind-up can write: every subset of the
// patched components (all their flags set), each with 0, 1 and 3 workers, with and without a
// scheduler configuration.
func kindUpArgs() [][]string {
	var all [][]string
	for mask := 0; mask < 1<<len(components); mask++ {
		variants := [][]string{{"--workers", "0"}, {"--workers", "1"}, {"--workers", "3"}}
		// The scheduler ignores its QPS flags beside a configuration file; kind-up refuses both.
		if mask&(1<<2) == 0 {
			variants = append(variants, []string{"--workers", "3", "--scheduler-config", spreadConfig})
		}
		for _, extra := range variants {
			args := append([]string{"--print-config", "--name", "check"}, extra...)
			for i, c := range components {
				if mask&(1<<i) == 0 {
					continue
				}
				for j, flag := range knobs[c] {
					args = append(args, flag, fmt.Sprint(10*(j+1)))
				}
			}
			all = append(all, args)
		}
	}
	return all
}

func kindUp(t *testing.T, args ...string) []byte {
	t.Helper()
	cmd := exec.Command("bash", append([]string{filepath.Join(root, "scripts/kind-up")}, args...)...)
	cmd.Env = withoutEnv(os.Environ(), "KIND_NODE_IMAGE")
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	out, err := cmd.Output()
	if err != nil {
		t.Fatalf("scripts/kind-up %s: %v\n%s", strings.Join(args, " "), err, stderr.String())
	}
	return out
}

func withoutEnv(env []string, name string) []string {
	var kept []string
	for _, e := range env {
		if !strings.HasPrefix(e, name+"=") {
			kept = append(kept, e)
		}
	}
	return kept
}

// decodeCluster decodes a kind configuration strictly: an unknown or misplaced field fails.
func decodeCluster(config []byte) (*kind.Cluster, error) {
	var c kind.Cluster
	if err := yaml.UnmarshalStrict(config, &c); err != nil {
		return nil, fmt.Errorf("kind v1alpha4 Cluster: %w", err)
	}
	if c.Kind != "Cluster" || c.APIVersion != "kind.x-k8s.io/v1alpha4" {
		return nil, fmt.Errorf("kind config is %s %s, want kind.x-k8s.io/v1alpha4 Cluster", c.APIVersion, c.Kind)
	}
	for i, patch := range c.KubeadmConfigPatches {
		if err := decodeKubeadmPatch([]byte(patch)); err != nil {
			return nil, fmt.Errorf("kubeadmConfigPatches[%d]: %w", i, err)
		}
	}
	return &c, nil
}

// decodeKubeadmPatch decodes one kubeadm patch strictly with kubeadm's v1beta4 types.
func decodeKubeadmPatch(patch []byte) error {
	var tm metav1.TypeMeta
	if err := yaml.Unmarshal(patch, &tm); err != nil {
		return err
	}
	if tm.APIVersion != "kubeadm.k8s.io/v1beta4" {
		return fmt.Errorf("apiVersion %q, want kubeadm.k8s.io/v1beta4", tm.APIVersion)
	}
	var into any
	switch tm.Kind {
	case "ClusterConfiguration":
		into = &kubeadm.ClusterConfiguration{}
	case "InitConfiguration":
		into = &kubeadm.InitConfiguration{}
	case "JoinConfiguration":
		into = &kubeadm.JoinConfiguration{}
	default:
		return fmt.Errorf("kind %q is not a kubeadm v1beta4 configuration kind-up writes", tm.Kind)
	}
	return yaml.UnmarshalStrict(patch, into)
}

// releaseImages reads release-images.txt: the node images each kind release was built with.
func releaseImages(t *testing.T) map[string]map[string]bool {
	t.Helper()
	f, err := os.Open("release-images.txt")
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	images := map[string]map[string]bool{}
	s := bufio.NewScanner(f)
	for s.Scan() {
		line := strings.TrimSpace(s.Text())
		if line == "" || strings.HasPrefix(line, "#") {
			continue
		}
		fields := strings.Fields(line)
		if len(fields) != 2 {
			t.Fatalf("release-images.txt: %q is not `kind-version image`", line)
		}
		if images[fields[0]] == nil {
			images[fields[0]] = map[string]bool{}
		}
		images[fields[0]][fields[1]] = true
	}
	return images
}

// pinnedKind is the kind version this module requires, which the workflow must install.
func pinnedKind(t *testing.T) string {
	t.Helper()
	mod, err := os.ReadFile("go.mod")
	if err != nil {
		t.Fatal(err)
	}
	m := regexp.MustCompile(`(?m)^\s*sigs\.k8s\.io/kind (v\S+)`).FindSubmatch(mod)
	if m == nil {
		t.Fatal("go.mod does not require sigs.k8s.io/kind")
	}
	return string(m[1])
}

func workflowEnv(t *testing.T, name string) string {
	t.Helper()
	wf, err := os.ReadFile(filepath.Join(root, ".github/workflows/nightly.yml"))
	if err != nil {
		t.Fatal(err)
	}
	var doc struct {
		Env map[string]string `json:"env"`
	}
	if err := yaml.Unmarshal(wf, &doc); err != nil {
		t.Fatalf("nightly.yml: %v", err)
	}
	v, ok := doc.Env[name]
	if !ok {
		t.Fatalf("nightly.yml has no env.%s", name)
	}
	return v
}

func TestEveryKindUpConfigDecodesStrictlyWithKindAndKubeadmTypes(t *testing.T) {
	images := releaseImages(t)[pinnedKind(t)]
	for _, args := range kindUpArgs() {
		out := kindUp(t, args...)
		c, err := decodeCluster(out)
		if err != nil {
			t.Fatalf("kind-up %s wrote a config kind would refuse: %v\n%s", strings.Join(args, " "), err, out)
		}
		for i, n := range c.Nodes {
			if !images[n.Image] {
				t.Errorf("kind-up %s: nodes[%d].image %s is not a node image of kind %s (release-images.txt)",
					strings.Join(args, " "), i, n.Image, pinnedKind(t))
			}
		}
	}
}

// printed decodes what kind-up prints for args: the kind cluster and its kubeadm patch.
func printed(t *testing.T, args ...string) (*kind.Cluster, kubeadm.ClusterConfiguration) {
	t.Helper()
	c, err := decodeCluster(kindUp(t, append([]string{"--print-config"}, args...)...))
	if err != nil {
		t.Fatal(err)
	}
	var cc kubeadm.ClusterConfiguration
	if err := yaml.UnmarshalStrict([]byte(c.KubeadmConfigPatches[0]), &cc); err != nil {
		t.Fatal(err)
	}
	return c, cc
}

func TestKindUpKnobsLandInTheComponentTheyName(t *testing.T) {
	_, cc := printed(t, "--kcm-api-qps", "500", "--scheduler-api-burst", "900",
		"--max-requests-inflight", "800")
	want := map[string][]kubeadm.Arg{
		"apiServer":         {{Name: "max-requests-inflight", Value: "800"}},
		"controllerManager": {{Name: "kube-api-qps", Value: "500"}},
		"scheduler":         {{Name: "kube-api-burst", Value: "900"}},
	}
	got := map[string][]kubeadm.Arg{
		"apiServer":         cc.APIServer.ExtraArgs,
		"controllerManager": cc.ControllerManager.ExtraArgs,
		"scheduler":         cc.Scheduler.ExtraArgs,
	}
	for c, w := range want {
		if fmt.Sprint(got[c]) != fmt.Sprint(w) {
			t.Errorf("%s extraArgs = %v, want %v", c, got[c], w)
		}
	}
}

func TestKindUpSchedulerConfigIsMountedIntoTheNodeAndPassedToTheScheduler(t *testing.T) {
	c, cc := printed(t, "--name", "check", "--scheduler-config", spreadConfig, "--kcm-api-qps", "70")
	var config string
	for _, a := range cc.Scheduler.ExtraArgs {
		if a.Name == "config" {
			config = a.Value
		}
	}
	if config == "" {
		t.Fatalf("scheduler extraArgs %v have no config", cc.Scheduler.ExtraArgs)
	}
	dir := filepath.Dir(config)
	if len(cc.Scheduler.ExtraVolumes) != 1 || cc.Scheduler.ExtraVolumes[0].MountPath != dir ||
		cc.Scheduler.ExtraVolumes[0].HostPath != dir {
		t.Errorf("scheduler extraVolumes %+v do not bring %s into the scheduler's pod", cc.Scheduler.ExtraVolumes, dir)
	}
	mounts := c.Nodes[0].ExtraMounts
	if c.Nodes[0].Role != kind.ControlPlaneRole || len(mounts) != 1 || mounts[0].ContainerPath != dir {
		t.Errorf("control-plane node extraMounts %+v do not bring %s into the node", mounts, dir)
	}
	for i, n := range c.Nodes[1:] {
		if len(n.ExtraMounts) != 0 {
			t.Errorf("worker %d mounts %+v; only the control plane runs the scheduler", i, n.ExtraMounts)
		}
	}
}

func TestKindUpRefusesASchedulerConfigTheSchedulerCouldNotUseAsGiven(t *testing.T) {
	refused := map[string][]string{
		"KubeSchedulerConfiguration": {"--scheduler-config", filepath.Join(root, "scenarios/smoke.yaml")},
		"readable file":              {"--scheduler-config", "no-such-file.yaml"},
		"clientConnection.qps":       {"--scheduler-config", spreadConfig, "--scheduler-api-qps", "70"},
	}
	for fix, args := range refused {
		cmd := exec.Command("bash", append([]string{filepath.Join(root, "scripts/kind-up"), "--print-config"}, args...)...)
		var stderr bytes.Buffer
		cmd.Stderr = &stderr
		if err := cmd.Run(); err == nil {
			t.Errorf("kind-up accepted %v", args)
		} else if !strings.Contains(stderr.String(), args[1]) || !strings.Contains(stderr.String(), fix) {
			t.Errorf("kind-up's error for %v names neither the file nor %q: %s", args, fix, stderr.String())
		}
	}
}

// The check is only worth something if it refuses what kind or kubeadm would refuse.
func TestStrictDecodingRefusesUnknownAndMisplacedFields(t *testing.T) {
	good := string(kindUp(t, "--print-config", "--kcm-api-qps", "500"))
	bad := map[string]string{
		"unknown kind field":          strings.Replace(good, "name: cronbench", "name: cronbench\nworkerss: 3", 1),
		"v1beta3 map extraArgs":       strings.Replace(good, "    - name: kube-api-qps\n      value: \"500\"", "      kube-api-qps: \"500\"", 1),
		"field under wrong component": strings.Replace(good, "controllerManager:", "controllerManagers:", 1),
		"old kubeadm apiVersion":      strings.Replace(good, "kubeadm.k8s.io/v1beta4", "kubeadm.k8s.io/v1beta3", 1),
	}
	for name, config := range bad {
		if config == good {
			t.Fatalf("%s: the mutation did not apply to\n%s", name, good)
		}
		if _, err := decodeCluster([]byte(config)); err == nil {
			t.Errorf("%s was accepted:\n%s", name, config)
		}
	}
}

func TestWorkflowInstallsThePinnedKindAndOneOfItsNodeImages(t *testing.T) {
	version := workflowEnv(t, "KIND_VERSION")
	if version != pinnedKind(t) {
		t.Errorf("nightly.yml installs kind %s, tools/kindcheck/go.mod pins %s: change both together", version, pinnedKind(t))
	}
	image := workflowEnv(t, "KIND_NODE_IMAGE")
	if !releaseImages(t)[version][image] {
		t.Errorf("nightly.yml KIND_NODE_IMAGE %s is not among kind %s's node images (release-images.txt)", image, version)
	}
}
