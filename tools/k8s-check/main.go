// k8s-check builds a kustomize overlay the way `kubectl kustomize` does (the kustomize API,
// in-process, builtin transformers only), then decodes every object it renders strictly into
// its typed Kubernetes struct (k8s.io/api, through client-go's scheme): an unknown field, a
// field of the wrong type, a duplicated field or a kind the scheme does not know is an error.
// A few references the API server would not check either are checked too: every
// configMapKeyRef names a key of a ConfigMap in the output, every Service selects a
// Deployment's pods, every HPA, PDB and Ingress points at something that is there.
//
// On success it prints the rendered objects (as kustomize rendered them) as one JSON array on
// stdout, for the workspace's tests to inspect. On failure it names the object and the field on
// stderr and exits 1. Nothing here talks to a cluster.
//
//	go run . ../../deploy/k8s/overlays/dev
package main

import (
	"encoding/json"
	"fmt"
	"os"
	"slices"
	"sort"
	"strings"

	appsv1 "k8s.io/api/apps/v1"
	autoscalingv2 "k8s.io/api/autoscaling/v2"
	corev1 "k8s.io/api/core/v1"
	networkingv1 "k8s.io/api/networking/v1"
	policyv1 "k8s.io/api/policy/v1"
	"k8s.io/apimachinery/pkg/labels"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/runtime/serializer"
	"k8s.io/client-go/kubernetes/scheme"
	"sigs.k8s.io/kustomize/api/krusty"
	"sigs.k8s.io/kustomize/kyaml/filesys"
)

func main() {
	if len(os.Args) != 2 || strings.HasPrefix(os.Args[1], "-") {
		fmt.Fprintln(os.Stderr, "usage: k8s-check OVERLAY_DIR")
		os.Exit(2)
	}
	dir := os.Args[1]

	// As `kubectl kustomize` builds: files only from within the kustomization roots, builtin
	// transformers only (no plugins), and its output order (namespaces and ConfigMaps before
	// the workloads that use them).
	options := krusty.MakeDefaultOptions()
	options.Reorder = krusty.ReorderOptionLegacy
	rendered, err := krusty.MakeKustomizer(options).Run(filesys.MakeFsOnDisk(), dir)
	if err != nil {
		fail(fmt.Sprintf("kustomize build %s: %v", dir, err))
	}

	decoder := serializer.NewCodecFactory(scheme.Scheme, serializer.EnableStrict).UniversalDeserializer()
	var problems []string
	var raw []json.RawMessage
	var objects []named
	for _, resource := range rendered.Resources() {
		name := fmt.Sprintf("%s %s", resource.GetKind(), resource.GetName())
		if ns := resource.GetNamespace(); ns != "" {
			name += " (namespace " + ns + ")"
		}
		data, err := resource.MarshalJSON()
		if err != nil {
			problems = append(problems, fmt.Sprintf("%s: %v", name, err))
			continue
		}
		object, _, err := decoder.Decode(data, nil, nil)
		if err != nil {
			problems = append(problems, describe(name, err))
			continue
		}
		raw = append(raw, data)
		objects = append(objects, named{name, object})
	}
	if len(raw) == 0 && len(problems) == 0 {
		problems = append(problems, dir+" renders no objects")
	}
	// References only between objects that decoded: a broken object would only echo as
	// "not found" from everything that points at it.
	if len(problems) == 0 {
		problems = references(objects)
	}
	if len(problems) > 0 {
		fail(fmt.Sprintf("%s is not valid Kubernetes:\n  %s", dir, strings.Join(problems, "\n  ")))
	}

	out, err := json.MarshalIndent(raw, "", "  ")
	if err != nil {
		fail(err.Error())
	}
	fmt.Println(string(out))
}

type named struct {
	name   string
	object runtime.Object
}

// describe turns a decoding error into one line per problem, each naming the object.
func describe(name string, err error) string {
	if strict, ok := runtime.AsStrictDecodingError(err); ok {
		var lines []string
		for _, e := range strict.Errors() {
			lines = append(lines, fmt.Sprintf("%s: %v", name, e))
		}
		return strings.Join(lines, "\n")
	}
	if runtime.IsNotRegisteredError(err) {
		return fmt.Sprintf("%s: not a kind of k8s.io/api (%v)", name, err)
	}
	return fmt.Sprintf("%s: %v", name, err)
}

// references checks what a typo in a name would break without any decoder noticing.
func references(objects []named) []string {
	var problems []string
	configMaps := map[string]map[string]bool{}
	deployments := map[string]*appsv1.Deployment{}
	services := map[string]*corev1.Service{}
	for _, o := range objects {
		switch v := o.object.(type) {
		case *corev1.ConfigMap:
			keys := map[string]bool{}
			for k := range v.Data {
				keys[k] = true
			}
			configMaps[key(v.Namespace, v.Name)] = keys
		case *appsv1.Deployment:
			deployments[key(v.Namespace, v.Name)] = v
		case *corev1.Service:
			services[key(v.Namespace, v.Name)] = v
		}
	}
	for _, o := range objects {
		switch v := o.object.(type) {
		case *appsv1.Deployment:
			for _, c := range slices.Concat(v.Spec.Template.Spec.InitContainers, v.Spec.Template.Spec.Containers) {
				for _, e := range c.Env {
					ref := (*corev1.ConfigMapKeySelector)(nil)
					if e.ValueFrom != nil {
						ref = e.ValueFrom.ConfigMapKeyRef
					}
					if ref == nil || (ref.Optional != nil && *ref.Optional) {
						continue
					}
					keys, ok := configMaps[key(v.Namespace, ref.Name)]
					switch {
					case !ok:
						problems = append(problems, fmt.Sprintf("%s: container %s: env %s: no ConfigMap %q", o.name, c.Name, e.Name, ref.Name))
					case !keys[ref.Key]:
						problems = append(problems, fmt.Sprintf("%s: container %s: env %s: ConfigMap %q has no key %q", o.name, c.Name, e.Name, ref.Name, ref.Key))
					}
				}
			}
			selector := labels.SelectorFromSet(v.Spec.Selector.MatchLabels)
			if !selector.Matches(labels.Set(v.Spec.Template.Labels)) {
				problems = append(problems, fmt.Sprintf("%s: spec.selector does not select its own pod template", o.name))
			}
		case *corev1.Service:
			if len(v.Spec.Selector) == 0 {
				continue
			}
			if deployment := selected(deployments, v.Namespace, v.Spec.Selector); deployment == nil {
				problems = append(problems, fmt.Sprintf("%s: spec.selector %v selects no Deployment's pods", o.name, v.Spec.Selector))
			} else {
				for _, port := range v.Spec.Ports {
					if port.TargetPort.IntValue() == 0 && !hasPort(deployment, port.TargetPort.String()) {
						problems = append(problems, fmt.Sprintf("%s: targetPort %q is no named port of Deployment %s", o.name, port.TargetPort.String(), deployment.Name))
					}
				}
			}
		case *autoscalingv2.HorizontalPodAutoscaler:
			target := v.Spec.ScaleTargetRef
			if target.Kind != "Deployment" || deployments[key(v.Namespace, target.Name)] == nil {
				problems = append(problems, fmt.Sprintf("%s: spec.scaleTargetRef %s %s is not in the output", o.name, target.Kind, target.Name))
			}
			if v.Spec.MinReplicas != nil && *v.Spec.MinReplicas > v.Spec.MaxReplicas {
				problems = append(problems, fmt.Sprintf("%s: spec.minReplicas %d > spec.maxReplicas %d", o.name, *v.Spec.MinReplicas, v.Spec.MaxReplicas))
			}
		case *policyv1.PodDisruptionBudget:
			if v.Spec.Selector == nil || selected(deployments, v.Namespace, v.Spec.Selector.MatchLabels) == nil {
				problems = append(problems, fmt.Sprintf("%s: spec.selector selects no Deployment's pods", o.name))
			}
		case *networkingv1.Ingress:
			for _, rule := range v.Spec.Rules {
				if rule.HTTP == nil {
					continue
				}
				for _, path := range rule.HTTP.Paths {
					backend := path.Backend.Service
					if backend == nil {
						continue
					}
					service := services[key(v.Namespace, backend.Name)]
					if service == nil {
						problems = append(problems, fmt.Sprintf("%s: path %s: no Service %q", o.name, path.Path, backend.Name))
						continue
					}
					if !servicePort(service, backend.Port) {
						problems = append(problems, fmt.Sprintf("%s: path %s: Service %q has no port %v", o.name, path.Path, backend.Name, backend.Port))
					}
				}
			}
		}
	}
	sort.Strings(problems)
	return problems
}

func key(namespace, name string) string { return namespace + "/" + name }

func selected(deployments map[string]*appsv1.Deployment, namespace string, selector map[string]string) *appsv1.Deployment {
	if len(selector) == 0 {
		return nil
	}
	for _, d := range deployments {
		if d.Namespace == namespace && labels.SelectorFromSet(selector).Matches(labels.Set(d.Spec.Template.Labels)) {
			return d
		}
	}
	return nil
}

func hasPort(d *appsv1.Deployment, name string) bool {
	for _, c := range d.Spec.Template.Spec.Containers {
		for _, p := range c.Ports {
			if p.Name == name {
				return true
			}
		}
	}
	return false
}

func servicePort(s *corev1.Service, port networkingv1.ServiceBackendPort) bool {
	for _, p := range s.Spec.Ports {
		if (port.Name != "" && p.Name == port.Name) || (port.Number != 0 && p.Port == port.Number) {
			return true
		}
	}
	return false
}

func fail(message string) {
	fmt.Fprintln(os.Stderr, "k8s-check:", message)
	os.Exit(1)
}
