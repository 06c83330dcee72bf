// Package deploy holds no code: its tests read the files under deploy/ as the
// API server, the kubelet and healthd would, so a manifest that cannot work
// fails `go test` instead of a rollout.
package deploy

import (
	"bufio"
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"math"
	"net"
	"os"
	"path"
	"path/filepath"
	"regexp"
	"sort"
	"strconv"
	"strings"
	"testing"

	"github.com/spf13/pflag"
	"github.com/spf13/viper"
	"go.yaml.in/yaml/v3"

	"github.com/healthd/healthd/internal/checks"
	"github.com/healthd/healthd/internal/config"
)

// object is the part of a Kubernetes object these tests read.
type object struct {
	APIVersion string            `yaml:"apiVersion"`
	Kind       string            `yaml:"kind"`
	Metadata   metadata          `yaml:"metadata"`
	Data       map[string]string `yaml:"data"` // ConfigMap
	Spec       yaml.Node         `yaml:"spec"`

	where string // file and document, for messages
}

type metadata struct {
	Name      string            `yaml:"name"`
	Namespace string            `yaml:"namespace"`
	Labels    map[string]string `yaml:"labels"`
}

type podTemplate struct {
	Metadata metadata `yaml:"metadata"`
	Spec     podSpec  `yaml:"spec"`
}

type podSpec struct {
	Containers     []container `yaml:"containers"`
	InitContainers []container `yaml:"initContainers"`
	Volumes        []volume    `yaml:"volumes"`
}

type container struct {
	Name    string          `yaml:"name"`
	Image   string          `yaml:"image"`
	Command []string        `yaml:"command"`
	Args    []string        `yaml:"args"`
	Env     []envVar        `yaml:"env"`
	Ports   []containerPort `yaml:"ports"`
	// yaml.v3 fills yaml.Node fields, not *yaml.Node ones: Kind 0 is unset.
	LivenessProbe  yaml.Node     `yaml:"livenessProbe"`
	ReadinessProbe yaml.Node     `yaml:"readinessProbe"`
	StartupProbe   yaml.Node     `yaml:"startupProbe"`
	VolumeMounts   []volumeMount `yaml:"volumeMounts"`
	Resources      struct {
		Limits map[string]string `yaml:"limits"`
	} `yaml:"resources"`
}

type containerPort struct {
	Name          string `yaml:"name"`
	ContainerPort int    `yaml:"containerPort"`
	Protocol      string `yaml:"protocol"`
}

type envVar struct {
	Name      string `yaml:"name"`
	Value     string `yaml:"value"`
	ValueFrom *struct {
		SecretKeyRef    *keyRef `yaml:"secretKeyRef"`
		ConfigMapKeyRef *keyRef `yaml:"configMapKeyRef"`
		FieldRef        *struct {
			FieldPath string `yaml:"fieldPath"`
		} `yaml:"fieldRef"`
		ResourceFieldRef *struct {
			ContainerName string `yaml:"containerName"`
			Resource      string `yaml:"resource"`
			Divisor       string `yaml:"divisor"`
		} `yaml:"resourceFieldRef"`
	} `yaml:"valueFrom"`
}

type keyRef struct {
	Name string `yaml:"name"`
	Key  string `yaml:"key"`
}

type volumeMount struct {
	Name      string `yaml:"name"`
	MountPath string `yaml:"mountPath"`
	SubPath   string `yaml:"subPath"`
}

type volume struct {
	Name      string `yaml:"name"`
	ConfigMap *struct {
		Name  string `yaml:"name"`
		Items []struct {
			Key  string `yaml:"key"`
			Path string `yaml:"path"`
		} `yaml:"items"`
	} `yaml:"configMap"`
}

// probe is core/v1 Probe, decoded strictly: a misspelt field would be
// dropped by the API server's lenient decoding and the probe silently lost.
type probe struct {
	Exec *struct {
		Command []string `yaml:"command"`
	} `yaml:"exec"`
	HTTPGet *struct {
		Path        string      `yaml:"path"`
		Port        intOrString `yaml:"port"`
		Host        string      `yaml:"host"`
		Scheme      string      `yaml:"scheme"`
		HTTPHeaders []struct {
			Name  string `yaml:"name"`
			Value string `yaml:"value"`
		} `yaml:"httpHeaders"`
	} `yaml:"httpGet"`
	TCPSocket *struct {
		Port intOrString `yaml:"port"`
		Host string      `yaml:"host"`
	} `yaml:"tcpSocket"`
	GRPC *struct {
		Port    int     `yaml:"port"`
		Service *string `yaml:"service"`
	} `yaml:"grpc"`
	InitialDelaySeconds           int    `yaml:"initialDelaySeconds"`
	TimeoutSeconds                int    `yaml:"timeoutSeconds"`
	PeriodSeconds                 int    `yaml:"periodSeconds"`
	SuccessThreshold              int    `yaml:"successThreshold"`
	FailureThreshold              int    `yaml:"failureThreshold"`
	TerminationGracePeriodSeconds *int64 `yaml:"terminationGracePeriodSeconds"`
}

// intOrString is Kubernetes' IntOrString as YAML gives it: `port: 8000` is a
// number, `port: healthd` and `port: "8000"` are names.
type intOrString struct {
	Num  int
	Name string
}

func (p *intOrString) UnmarshalYAML(n *yaml.Node) error {
	if n.Kind != yaml.ScalarNode {
		return fmt.Errorf("line %d: port must be a number or a name", n.Line)
	}
	if n.Tag == "!!int" {
		v, err := strconv.Atoi(n.Value)
		if err != nil {
			return fmt.Errorf("line %d: port %q: %w", n.Line, n.Value, err)
		}
		p.Num = v
		return nil
	}
	p.Name = n.Value
	return nil
}

func (p intOrString) String() string {
	if p.Name != "" {
		return strconv.Quote(p.Name)
	}
	return strconv.Itoa(p.Num)
}

// pod is one pod template (of a Deployment, DaemonSet…) with the healthd
// instances it runs.
type pod struct {
	where     string // "kubernetes/sidecar.yaml: Deployment web"
	namespace string
	labels    map[string]string
	spec      podSpec
	healthd   map[string]*healthd // by container name
}

// healthd is one healthd container as it would start: its config loaded
// from the ConfigMap the manifest mounts, with the container's flags and
// environment.
type healthd struct {
	cfg    *config.Config // nil when it does not load
	data   []byte         // the config file
	listen string
	port   int
}

// containers returns the pod's containers and init containers.
func (p *pod) containers() []container {
	return append(append([]container(nil), p.spec.InitContainers...), p.spec.Containers...)
}

// deployment is everything under deploy/.
type deployment struct {
	objects  []*object
	pods     []*pod
	problems []string // configs that would not load: reported by TestManifests_EmbeddedConfigsLoad
}

// samples stand in for values the cluster provides (Secrets, the downward
// API). Each set is tried: a config must load on an IPv4 and on an IPv6
// cluster. A manifest that takes a value from elsewhere needs a sample here.
var samples = []map[string]string{
	{
		"secretKeyRef:token":        "sample-token-0123456789abcdef",
		"secretKeyRef:database-url": "postgres://app:sample-password@db:5432/app?sslmode=require",
		"fieldRef:status.hostIP":    "10.0.0.7",
		"fieldRef:status.podIP":     "10.244.1.9",
	},
	{
		"secretKeyRef:token":        "sample-token-0123456789abcdef",
		"secretKeyRef:database-url": "postgres://app:sample-password@db:5432/app?sslmode=require",
		"fieldRef:status.hostIP":    "fd00:10::7",
		"fieldRef:status.podIP":     "fd00:244:1::9",
	},
}

// load reads every YAML file under deploy/ (every document of each) and
// builds each pod template's healthd instances.
func load(t *testing.T) *deployment {
	t.Helper()
	d := &deployment{}
	var files []string
	err := filepath.WalkDir(".", func(p string, e fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		if !e.IsDir() && (strings.HasSuffix(p, ".yaml") || strings.HasSuffix(p, ".yml")) {
			files = append(files, p)
		}
		return nil
	})
	if err != nil {
		t.Fatalf("walk deploy/: %v", err)
	}
	for _, f := range files {
		objs, err := readObjects(f)
		if err != nil {
			t.Fatalf("%v", err)
		}
		d.objects = append(d.objects, objs...)
	}
	image, err := readImage(filepath.Join("..", "Dockerfile"))
	if err != nil {
		t.Fatalf("%v", err)
	}
	for _, o := range d.objects {
		tmpl, err := o.podTemplate()
		if err != nil {
			t.Fatalf("%s: %v", o.where, err)
		}
		if tmpl == nil {
			continue
		}
		ns := o.Metadata.Namespace
		if tmpl.Metadata.Namespace != "" {
			ns = tmpl.Metadata.Namespace
		}
		p := &pod{where: o.where, namespace: ns, labels: tmpl.Metadata.Labels, spec: tmpl.Spec, healthd: map[string]*healthd{}}
		for _, c := range p.containers() {
			if imageName(c.Image) != "healthd" {
				continue
			}
			h, problems := d.start(p, c, image)
			p.healthd[c.Name] = h
			d.problems = append(d.problems, problems...)
		}
		d.pods = append(d.pods, p)
	}
	return d
}

// readObjects decodes every document of a YAML file; documents without
// apiVersion and kind (Prometheus files) are parsed but not returned.
func readObjects(file string) ([]*object, error) {
	data, err := os.ReadFile(file)
	if err != nil {
		return nil, err
	}
	var out []*object
	dec := yaml.NewDecoder(bytes.NewReader(data))
	for i := 1; ; i++ {
		var n yaml.Node
		if err := dec.Decode(&n); errors.Is(err, io.EOF) {
			return out, nil
		} else if err != nil {
			return nil, fmt.Errorf("%s: document %d: %w", file, i, err)
		}
		var head struct {
			APIVersion string `yaml:"apiVersion"`
			Kind       string `yaml:"kind"`
		}
		if err := n.Decode(&head); err != nil || head.APIVersion == "" || head.Kind == "" {
			continue
		}
		o := &object{}
		if err := n.Decode(o); err != nil {
			return nil, fmt.Errorf("%s: document %d: %w", file, i, err)
		}
		o.where = fmt.Sprintf("%s: %s %s", filepath.ToSlash(file), o.Kind, o.Metadata.Name)
		out = append(out, o)
	}
}

// podTemplate returns the pod a workload runs, or nil for other kinds.
func (o *object) podTemplate() (*podTemplate, error) {
	var spec struct {
		Template    *podTemplate `yaml:"template"`
		JobTemplate *struct {
			Spec struct {
				Template *podTemplate `yaml:"template"`
			} `yaml:"spec"`
		} `yaml:"jobTemplate"`
	}
	switch o.Kind {
	case "Pod":
		pt := &podTemplate{Metadata: o.Metadata}
		return pt, o.Spec.Decode(&pt.Spec)
	case "Deployment", "DaemonSet", "StatefulSet", "ReplicaSet", "Job":
		if err := o.Spec.Decode(&spec); err != nil {
			return nil, err
		}
		if spec.Template == nil {
			return nil, fmt.Errorf("spec.template is missing")
		}
		return spec.Template, nil
	case "CronJob":
		if err := o.Spec.Decode(&spec); err != nil {
			return nil, err
		}
		if spec.JobTemplate == nil || spec.JobTemplate.Spec.Template == nil {
			return nil, fmt.Errorf("spec.jobTemplate.spec.template is missing")
		}
		return spec.JobTemplate.Spec.Template, nil
	}
	return nil, nil
}

// image is what healthd's Dockerfile gives a container that does not say
// otherwise.
type image struct {
	entrypoint, cmd []string
	env             map[string]string
}

// readImage reads the final stage's ENTRYPOINT, CMD and ENV lines.
func readImage(file string) (image, error) {
	img := image{env: map[string]string{}}
	f, err := os.Open(file)
	if err != nil {
		return img, err
	}
	defer f.Close()
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		instr, rest, _ := strings.Cut(strings.TrimSpace(sc.Text()), " ")
		rest = strings.TrimSpace(rest)
		switch strings.ToUpper(instr) {
		case "FROM":
			img = image{env: map[string]string{}}
		case "ENTRYPOINT", "CMD":
			var argv []string
			if err := json.Unmarshal([]byte(rest), &argv); err != nil {
				return img, fmt.Errorf("%s: %s %s: only the JSON form is understood: %w", file, instr, rest, err)
			}
			if strings.ToUpper(instr) == "CMD" {
				img.cmd = argv
			} else {
				img.entrypoint = argv
			}
		case "ENV":
			for _, kv := range strings.Fields(rest) {
				if k, v, ok := strings.Cut(kv, "="); ok {
					img.env[k] = v
				}
			}
		}
	}
	if err := sc.Err(); err != nil {
		return img, err
	}
	if len(img.entrypoint) == 0 {
		return img, fmt.Errorf("%s: no ENTRYPOINT in the final stage", file)
	}
	return img, nil
}

// imageName returns an image reference's repository's last element:
// "registry.example.com/healthd:1.0.0" is "healthd".
func imageName(ref string) string {
	ref, _, _ = strings.Cut(ref, "@")
	ref = path.Base(ref)
	name, _, _ := strings.Cut(ref, ":")
	return name
}

// start works out how healthd would start in container c: its argv and
// environment (with the image's defaults), the config file it reads from
// the ConfigMap mounted there, and the address it listens on. The config is
// loaded with every sample set; problems lists what would stop it.
func (d *deployment) start(p *pod, c container, img image) (*healthd, []string) {
	where := fmt.Sprintf("%s: container %q", p.where, c.Name)
	argv := append(append([]string(nil), img.entrypoint...), img.cmd...)
	if len(c.Command) > 0 {
		argv = append(append([]string(nil), c.Command...), c.Args...)
	} else if c.Args != nil {
		argv = append(append([]string(nil), img.entrypoint...), c.Args...)
	}
	if len(argv) == 0 || path.Base(argv[0]) != "healthd" {
		return &healthd{}, []string{fmt.Sprintf("%s: runs %q, not healthd", where, argv)}
	}
	// As cmd/healthd parses them: a first argument that is not a flag is
	// the command, serve by default.
	args, cmd := argv[1:], "serve"
	if len(args) > 0 && !strings.HasPrefix(args[0], "-") {
		cmd, args = args[0], args[1:]
	}
	if cmd != "serve" {
		return &healthd{}, []string{fmt.Sprintf("%s: runs `healthd %s`, which serves nothing for probes", where, cmd)}
	}
	fl := pflag.NewFlagSet("healthd serve", pflag.ContinueOnError)
	fl.SetOutput(io.Discard)
	cfgFlag := fl.String("config", "", "")
	listenFlag := fl.String("listen", "", "")
	if err := fl.Parse(args); err != nil {
		return &healthd{}, []string{fmt.Sprintf("%s: healthd would exit: %v", where, err)}
	}

	var problems []string
	var h *healthd
	for i, sample := range samples {
		env, missing := d.environment(p, c, img, sample)
		problems = append(problems, missing...)
		file := *cfgFlag
		if !fl.Changed("config") {
			file = env["HEALTHD_CONFIG"]
		}
		if file == "" {
			file = "configs/healthd.yaml" // cmd/healthd's last resort: not in the image
		}
		data, err := d.mounted(p, c, file)
		if err != nil {
			return &healthd{}, append(problems, fmt.Sprintf("%s: --config %s: %v", where, file, err))
		}
		// Flags and HEALTHD_SERVER_* variables override the file, as
		// config.NewOverrides and cmd/healthd bind them (a flag wins).
		ov := viper.New()
		for k, v := range env {
			if key, ok := strings.CutPrefix(k, "HEALTHD_SERVER_"); ok {
				ov.Set("server."+strings.ToLower(key), v)
			}
		}
		if fl.Changed("listen") {
			ov.Set("server.listen", *listenFlag)
		}
		cfg, err := config.Parse(file, data, config.Options{
			Registry:  checks.Builtin(),
			LookupEnv: func(k string) (string, bool) { v, ok := env[k]; return v, ok },
			Overrides: ov,
		})
		if err != nil {
			problems = append(problems, fmt.Sprintf("%s: with sample values %d (%s): `healthd serve` would exit:\n%v", where, i+1, sampleIPs(sample), err))
			continue
		}
		if h == nil {
			h = &healthd{cfg: cfg, data: data, listen: cfg.Server.Listen}
		}
	}
	if h == nil {
		return &healthd{}, problems
	}
	host, port, err := net.SplitHostPort(h.listen)
	n, perr := strconv.Atoi(port)
	switch {
	case err != nil || perr != nil || n < 1 || n > 65535:
		problems = append(problems, fmt.Sprintf("%s: server.listen %q is not host:port", where, h.listen))
	case host != "" && host != "0.0.0.0" && host != "::":
		// The kubelet and Services reach the pod's IP, not loopback.
		problems = append(problems, fmt.Sprintf("%s: server.listen %q: listen on all addresses (\":%d\") so the kubelet can reach it", where, h.listen, n))
	default:
		h.port = n
	}
	return h, problems
}

func sampleIPs(s map[string]string) string {
	if strings.Contains(s["fieldRef:status.hostIP"], ":") {
		return "IPv6"
	}
	return "IPv4"
}

// environment is c's environment as the kubelet would set it: the image's
// ENV, then c.env, with values from ConfigMaps under deploy/ or the sample.
func (d *deployment) environment(p *pod, c container, img image, sample map[string]string) (map[string]string, []string) {
	env := map[string]string{}
	for k, v := range img.env {
		env[k] = v
	}
	var problems []string
	for _, e := range c.Env {
		switch vf := e.ValueFrom; {
		case vf == nil:
			env[e.Name] = expandDependent(e.Value, env)
		case vf.ResourceFieldRef != nil:
			v, err := resourceField(p, c, vf.ResourceFieldRef.ContainerName, vf.ResourceFieldRef.Resource, vf.ResourceFieldRef.Divisor)
			if err != nil {
				problems = append(problems, fmt.Sprintf("%s: env %s: %v", p.where, e.Name, err))
			}
			env[e.Name] = v
		case vf.ConfigMapKeyRef != nil:
			cm := d.find("ConfigMap", p.namespace, vf.ConfigMapKeyRef.Name)
			v, ok := "", false
			if cm != nil {
				v, ok = cm.Data[vf.ConfigMapKeyRef.Key]
			}
			if !ok {
				problems = append(problems, fmt.Sprintf("%s: env %s: no ConfigMap %s with key %s under deploy/", p.where, e.Name, vf.ConfigMapKeyRef.Name, vf.ConfigMapKeyRef.Key))
			}
			env[e.Name] = v
		default:
			key := ""
			if vf.SecretKeyRef != nil {
				key = "secretKeyRef:" + vf.SecretKeyRef.Key
			} else if vf.FieldRef != nil {
				key = "fieldRef:" + vf.FieldRef.FieldPath
			}
			v, ok := sample[key]
			if !ok {
				problems = append(problems, fmt.Sprintf("%s: env %s: add a sample value for %q to samples in deploy/model_test.go", p.where, e.Name, key))
			}
			env[e.Name] = v
		}
	}
	return env, problems
}

// find returns the object of that kind, namespace and name.
func (d *deployment) find(kind, namespace, name string) *object {
	for _, o := range d.objects {
		if o.Kind == kind && o.Metadata.Namespace == namespace && o.Metadata.Name == name {
			return o
		}
	}
	return nil
}

// mounted returns the content of file as c sees it, when a ConfigMap
// volume (from deploy/) provides it.
func (d *deployment) mounted(p *pod, c container, file string) ([]byte, error) {
	var best *volumeMount
	rel := ""
	for i, m := range c.VolumeMounts {
		switch {
		case m.SubPath != "" && m.MountPath == file:
			best, rel = &c.VolumeMounts[i], m.SubPath
		case m.SubPath == "" && strings.HasPrefix(file, strings.TrimSuffix(m.MountPath, "/")+"/"):
			if best == nil || len(m.MountPath) > len(best.MountPath) {
				best, rel = &c.VolumeMounts[i], strings.TrimPrefix(file, strings.TrimSuffix(m.MountPath, "/")+"/")
			}
		}
	}
	if best == nil {
		return nil, fmt.Errorf("no volume is mounted there")
	}
	var v *volume
	for i := range p.spec.Volumes {
		if p.spec.Volumes[i].Name == best.Name {
			v = &p.spec.Volumes[i]
		}
	}
	if v == nil || v.ConfigMap == nil {
		return nil, fmt.Errorf("volume %q is not a ConfigMap volume of the pod", best.Name)
	}
	key := rel
	if len(v.ConfigMap.Items) > 0 {
		key = ""
		for _, it := range v.ConfigMap.Items {
			if path.Clean(it.Path) == rel {
				key = it.Key
			}
		}
	}
	cm := d.find("ConfigMap", p.namespace, v.ConfigMap.Name)
	if cm == nil {
		return nil, fmt.Errorf("volume %q: no ConfigMap %q in namespace %q under deploy/", v.Name, v.ConfigMap.Name, p.namespace)
	}
	data, ok := cm.Data[key]
	if !ok || key == "" {
		keys := make([]string, 0, len(cm.Data))
		for k := range cm.Data {
			keys = append(keys, k)
		}
		sort.Strings(keys)
		return nil, fmt.Errorf("ConfigMap %s has no key giving %q (keys: %s)", cm.Metadata.Name, rel, strings.Join(keys, ", "))
	}
	return []byte(data), nil
}

// decodeProbe decodes a probe strictly (unknown fields are errors).
func decodeProbe(n *yaml.Node) (*probe, error) {
	b, err := yaml.Marshal(n)
	if err != nil {
		return nil, err
	}
	dec := yaml.NewDecoder(bytes.NewReader(b))
	dec.KnownFields(true)
	pr := &probe{}
	if err := dec.Decode(pr); err != nil {
		return nil, fmt.Errorf("line %d: %w", n.Line, err)
	}
	return pr, nil
}

// probes returns c's probes by kind (liveness, readiness, startup).
func probes(c container) (map[string]*probe, error) {
	out := map[string]*probe{}
	for kind, n := range map[string]*yaml.Node{"liveness": &c.LivenessProbe, "readiness": &c.ReadinessProbe, "startup": &c.StartupProbe} {
		if n.Kind == 0 {
			continue
		}
		pr, err := decodeProbe(n)
		if err != nil {
			return nil, fmt.Errorf("%sProbe: %w", kind, err)
		}
		out[kind] = pr
	}
	return out, nil
}

// portName is IANA_SVC_NAME, what the API server accepts as a port name.
var portName = regexp.MustCompile(`^[a-z0-9]([a-z0-9-]*[a-z0-9])?$`)

func validPortName(s string) bool {
	return len(s) <= 15 && portName.MatchString(s) && !strings.Contains(s, "--") && strings.ContainsAny(s, "abcdefghijklmnopqrstuvwxyz")
}

// quantity parses a memory quantity ("64Mi", "128M", "1Gi", "67108864").
func quantity(s string) (float64, error) {
	units := []struct {
		suffix string
		mult   float64
	}{{"Ki", 1 << 10}, {"Mi", 1 << 20}, {"Gi", 1 << 30}, {"Ti", 1 << 40}, {"k", 1e3}, {"M", 1e6}, {"G", 1e9}, {"T", 1e12}}
	for _, u := range units {
		if num, ok := strings.CutSuffix(s, u.suffix); ok {
			v, err := strconv.ParseFloat(num, 64)
			return v * u.mult, err
		}
	}
	return strconv.ParseFloat(s, 64)
}

// expandDependent expands $(VAR) from variables defined before, as the
// kubelet does; $$ is a literal $, and an unknown reference stays as it is.
func expandDependent(v string, env map[string]string) string {
	var b strings.Builder
	for i := 0; i < len(v); i++ {
		if v[i] == '$' && i+1 < len(v) {
			switch v[i+1] {
			case '$':
				b.WriteByte('$')
				i++
				continue
			case '(':
				if end := strings.IndexByte(v[i:], ')'); end > 0 {
					if val, ok := env[v[i+2:i+end]]; ok {
						b.WriteString(val)
						i += end
						continue
					}
				}
			}
		}
		b.WriteByte(v[i])
	}
	return b.String()
}

// resourceField is a downward API resourceFieldRef's value: the container's
// limit in whole divisors, rounded up, as the kubelet gives it.
func resourceField(p *pod, c container, name, resource, divisor string) (string, error) {
	if name == "" {
		name = c.Name
	}
	var target *container
	for i := range p.spec.Containers {
		if p.spec.Containers[i].Name == name {
			target = &p.spec.Containers[i]
		}
	}
	if target == nil {
		return "", fmt.Errorf("resourceFieldRef names no container %q", name)
	}
	kind, ok := strings.CutPrefix(resource, "limits.")
	if !ok {
		return "", fmt.Errorf("resourceFieldRef %q: only limits are modelled", resource)
	}
	limit, ok := target.Resources.Limits[kind]
	if !ok {
		return "", fmt.Errorf("resourceFieldRef %s: container %q sets no such limit (the kubelet would give the node's capacity)", resource, name)
	}
	n, err := quantity(limit)
	if err != nil {
		return "", err
	}
	d := 1.0
	if divisor != "" {
		if d, err = quantity(divisor); err != nil || d <= 0 {
			return "", fmt.Errorf("resourceFieldRef divisor %q", divisor)
		}
	}
	return strconv.FormatFloat(math.Ceil(n/d), 'f', 0, 64), nil
}
