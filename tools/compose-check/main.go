// compose-check loads a Compose file the way `docker compose config` does (compose-go is the
// library inside docker compose): schema validation, interpolation, merge keys, depends_on,
// profiles. It prints the normalised project as JSON for the workspace's tests to inspect.
//
// Active profiles, as with docker compose: each -profile flag, else COMPOSE_PROFILES from the
// environment, else COMPOSE_PROFILES from the env file. Services of other profiles are left out.
//
//	go run . ../../docker-compose.yml ../../.env.example
//	go run . -profile demo ../../docker-compose.yml ../../.env.example
package main

import (
	"context"
	"encoding/json"
	"flag"
	"fmt"
	"os"
	"strings"

	"github.com/compose-spec/compose-go/v2/cli"
)

type profileFlags []string

func (p *profileFlags) String() string { return strings.Join(*p, ",") }

func (p *profileFlags) Set(value string) error {
	*p = append(*p, value)
	return nil
}

func main() {
	var profiles profileFlags
	flag.Var(&profiles, "profile", "activate a profile (repeatable)")
	flag.Usage = func() {
		fmt.Fprintln(os.Stderr, "usage: compose-check [-profile NAME]... COMPOSE_FILE ENV_FILE")
	}
	flag.Parse()
	if flag.NArg() != 2 {
		flag.Usage()
		os.Exit(2)
	}
	if len(profiles) == 0 {
		if env, ok := os.LookupEnv("COMPOSE_PROFILES"); ok {
			for _, p := range strings.Split(env, ",") {
				if p = strings.TrimSpace(p); p != "" {
					profiles = append(profiles, p)
				}
			}
		}
	}
	options, err := cli.NewProjectOptions(
		[]string{flag.Arg(0)},
		cli.WithName("marketplace"),
		cli.WithEnvFiles(flag.Arg(1)),
		cli.WithDotEnv,
		// Falls back to COMPOSE_PROFILES from the env file when no profile was given.
		cli.WithDefaultProfiles(profiles...),
	)
	if err != nil {
		fail(err)
	}
	project, err := options.LoadProject(context.Background())
	if err != nil {
		fail(err)
	}
	out, err := json.MarshalIndent(project, "", "  ")
	if err != nil {
		fail(err)
	}
	fmt.Println(string(out))
}

func fail(err error) {
	fmt.Fprintln(os.Stderr, "compose file invalid:", err)
	os.Exit(1)
}
