package main

import (
	"bufio"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// The sample configuration in deploy/ is what a county IT admin copies: every setting in it
// must be a flag of its command with a valid value, and every variable of the sample
// environment file one the command reads, or the service fails at its first start.
func TestDeploy_SampleConfigsMatchTheCommands(t *testing.T) {
	for file, command := range map[string]string{"hub.conf": "hub", "station.conf": "station"} {
		t.Run(file, func(t *testing.T) {
			path := filepath.Join("..", "..", "deploy", file)
			c := (&app{commands: commands()}).lookup(command)
			if c == nil {
				t.Fatalf("no command %q", command)
			}
			fs, _, _ := newFlagSet(c)
			if err := fs.Parse([]string{"--config", path}); err != nil {
				t.Fatal(err)
			}
			if err := settle(fs, func(string) (string, bool) { return "", false }); err != nil {
				t.Fatalf("%s does not fit `fengqiao %s`: %v", file, command, err)
			}
		})
	}
	f, err := os.Open(filepath.Join("..", "..", "deploy", "cluster.env.example"))
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	fs, _, _ := newFlagSet((&app{commands: commands()}).lookup("hub"))
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		line := strings.TrimLeft(strings.TrimSpace(sc.Text()), "# ")
		name, _, ok := strings.Cut(line, "=")
		if !ok || !strings.HasPrefix(name, envPrefix) {
			continue
		}
		flagName := strings.ToLower(strings.ReplaceAll(strings.TrimPrefix(name, envPrefix), "_", "-"))
		if fs.Lookup(flagName) == nil {
			t.Errorf("cluster.env.example sets %s, but `fengqiao hub` has no --%s", name, flagName)
		}
	}
}
