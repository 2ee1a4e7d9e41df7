package main

// Settings. Every flag of every command can be given in three places; the first that has it wins:
//
//  1. the command line: --http 127.0.0.1:8080
//  2. the environment:  FENGQIAO_HTTP=127.0.0.1:8080 (envName: flag name upper-cased, '-' → '_')
//  3. a config file named by --config FILE or FENGQIAO_CONFIG, one setting a line:
//
//	# station of 城关镇
//	dir = /var/lib/fengqiao
//	http = 0.0.0.0:8080
//
// and otherwise the flag keeps its default. A variable that is set but empty counts as given (it
// sets the flag to ""). The file uses flag names without dashes in front; '#' starts a comment
// only at the start of a line (values may contain '#'); spaces around the name and the value are
// trimmed; a UTF-8 byte-order mark and CRLF line ends are accepted (Windows editors write them).
// A name that is not a flag of the command, a line without '=', a repeated name, or a "config"
// line is an error naming the file and line: a typo must not silently leave a default in force.

import (
	"bufio"
	"bytes"
	"flag"
	"fmt"
	"os"
	"strings"
)

// envPrefix starts the name of every environment variable the binary reads.
const envPrefix = "FENGQIAO_"

// envName is the environment variable for flag name: "log-level" → "FENGQIAO_LOG_LEVEL".
func envName(flagName string) string {
	return envPrefix + strings.ToUpper(strings.ReplaceAll(flagName, "-", "_"))
}

// settle fills each flag of fs that the command line did not set: from its FENGQIAO_* variable
// if set, else from the config file if it has the name. It runs after fs.Parse. Bad values are
// usage errors that say where the value came from.
func settle(fs *flag.FlagSet, lookupEnv func(string) (string, bool)) error {
	given := make(map[string]bool)
	fs.Visit(func(f *flag.Flag) { given[f.Name] = true })

	var err error
	fs.VisitAll(func(f *flag.Flag) {
		if err != nil || given[f.Name] {
			return
		}
		name := envName(f.Name)
		v, ok := lookupEnv(name)
		if !ok {
			return
		}
		if e := fs.Set(f.Name, v); e != nil {
			err = usageErrorf("%s=%q: %v", name, v, e)
			return
		}
		given[f.Name] = true
	})
	if err != nil {
		return err
	}

	path := fs.Lookup(configFlag).Value.String()
	if path == "" {
		return nil
	}
	data, err := os.ReadFile(path)
	if err != nil {
		return fmt.Errorf("read config file: %w", err)
	}
	settings, err := parseConfig(path, data)
	if err != nil {
		return err
	}
	for _, s := range settings {
		if fs.Lookup(s.name) == nil {
			return usageErrorf("%s:%d: unknown setting %q: %s has no --%s flag", path, s.line, s.name, fs.Name(), s.name)
		}
		if s.name == configFlag {
			return usageErrorf("%s:%d: %q cannot be set in a config file", path, s.line, configFlag)
		}
		if given[s.name] {
			continue
		}
		if e := fs.Set(s.name, s.value); e != nil {
			return usageErrorf("%s:%d: invalid value %q for %s: %v", path, s.line, s.value, s.name, e)
		}
	}
	return nil
}

// setting is one `name = value` line of a config file.
type setting struct {
	name, value string
	line        int // 1-based
}

// parseConfig splits a config file into settings, checking only the syntax; settle checks the
// names against the command's flags. path is used in error messages.
func parseConfig(path string, data []byte) ([]setting, error) {
	data = bytes.TrimPrefix(data, []byte("\xef\xbb\xbf"))
	var out []setting
	seen := make(map[string]int) // name → line
	sc := bufio.NewScanner(bytes.NewReader(data))
	for n := 1; sc.Scan(); n++ {
		line := strings.TrimSpace(sc.Text())
		if line == "" || strings.HasPrefix(line, "#") {
			continue
		}
		name, value, ok := strings.Cut(line, "=")
		name, value = strings.TrimSpace(name), strings.TrimSpace(value)
		if !ok || name == "" {
			return nil, usageErrorf("%s:%d: want \"name = value\", got %q", path, n, line)
		}
		if prev, dup := seen[name]; dup {
			return nil, usageErrorf("%s:%d: %q already set on line %d", path, n, name, prev)
		}
		seen[name] = n
		out = append(out, setting{name: name, value: value, line: n})
	}
	if err := sc.Err(); err != nil {
		return nil, fmt.Errorf("read config file %s: %w", path, err)
	}
	return out, nil
}
