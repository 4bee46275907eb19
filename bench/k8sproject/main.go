// Command k8sproject is the client workload of the modferry server
// benchmark (bench/serve.sh): a controller-runtime manager over client-go,
// whose module graph — 150+ modules — a fresh client downloads with
// `go mod download all`. It is never run.
package main

import (
	"fmt"

	"k8s.io/client-go/kubernetes"
	"k8s.io/client-go/rest"
	ctrl "sigs.k8s.io/controller-runtime"
)

func main() {
	cfg := &rest.Config{Host: "https://127.0.0.1:6443"}
	if _, err := kubernetes.NewForConfig(cfg); err != nil {
		fmt.Println(err)
	}
	if _, err := ctrl.NewManager(cfg, ctrl.Options{}); err != nil {
		fmt.Println(err)
	}
}
