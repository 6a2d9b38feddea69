// gotestreport reads `go test -json` events on stdin and prints one line per test, as the other
// compatibility suites do: "ok - go/NAME", "ok - go/NAME # SKIP reason" or "not ok - go/NAME"
// followed by that test's output (indented). Tests with subtests are reported through their
// subtests; a parent gets its own line only when it failed outside them. A test that started but
// never finished (the binary panicked or timed out) is "not ok". The last line is
// "go: N passed, M failed, K skipped". The exit status is 1 if anything failed or the stream held
// no test at all, else 0.
package main

import (
	"bufio"
	"encoding/json"
	"fmt"
	"os"
	"strings"
)

type event struct {
	Action  string
	Package string
	Test    string
	Output  string
	Elapsed float64
}

type test struct {
	name     string
	output   []string
	action   string // pass, fail, skip, or "" while running
	children int
	childBad int
}

func main() {
	prefix := "go/"
	if len(os.Args) > 1 {
		prefix = os.Args[1]
	}
	tests := map[string]*test{}
	var order []*test   // in the order they ended
	var pkgOut []string // output outside any test (build errors, panics)
	pkgFailed := false
	sc := bufio.NewScanner(os.Stdin)
	sc.Buffer(make([]byte, 1<<20), 16<<20)
	for sc.Scan() {
		line := sc.Bytes()
		var e event
		if err := json.Unmarshal(line, &e); err != nil || e.Action == "" {
			// not JSON: go's own messages (build failures) land here
			pkgOut = append(pkgOut, string(line))
			continue
		}
		if e.Test == "" {
			if e.Action == "output" {
				pkgOut = append(pkgOut, strings.TrimRight(e.Output, "\n"))
			}
			if e.Action == "fail" {
				pkgFailed = true
			}
			continue
		}
		t := tests[e.Test]
		if t == nil {
			t = &test{name: e.Test}
			tests[e.Test] = t
			if i := strings.LastIndex(e.Test, "/"); i > 0 {
				if p := tests[e.Test[:i]]; p != nil {
					p.children++
				}
			}
		}
		switch e.Action {
		case "output":
			out := strings.TrimRight(e.Output, "\n")
			if strings.HasPrefix(strings.TrimSpace(out), "=== ") {
				continue
			}
			t.output = append(t.output, out)
		case "pass", "fail", "skip":
			t.action = e.Action
			order = append(order, t)
			if e.Action == "fail" {
				if i := strings.LastIndex(e.Test, "/"); i > 0 {
					if p := tests[e.Test[:i]]; p != nil {
						p.childBad++
					}
				}
			}
		}
	}
	passed, failed, skipped := 0, 0, 0
	for _, t := range order {
		switch {
		case t.children > 0 && (t.action != "fail" || t.childBad > 0):
			continue
		case t.action == "pass":
			passed++
			fmt.Printf("ok - %s%s\n", prefix, t.name)
		case t.action == "skip":
			skipped++
			reason := ""
			for _, o := range t.output {
				if s := strings.TrimSpace(o); s != "" && !strings.HasPrefix(s, "--- SKIP") {
					reason = s
				}
			}
			fmt.Printf("ok - %s%s # SKIP %s\n", prefix, t.name, reason)
		default:
			failed++
			fmt.Printf("not ok - %s%s\n", prefix, t.name)
			for _, o := range t.output {
				fmt.Printf("    %s\n", o)
			}
		}
	}
	for _, t := range tests {
		if t.action == "" && t.children == 0 {
			failed++
			fmt.Printf("not ok - %s%s (did not finish)\n", prefix, t.name)
			for _, o := range t.output {
				fmt.Printf("    %s\n", o)
			}
		}
	}
	if pkgFailed && failed == 0 || passed+failed+skipped == 0 {
		failed++
		fmt.Printf("not ok - %sgo-test (the test binary failed outside any test, or ran none)\n", prefix)
		for _, o := range pkgOut {
			fmt.Printf("    %s\n", o)
		}
	} else if pkgFailed {
		// panics and timeouts are printed outside the test that caused them
		n := 0
		for _, o := range pkgOut {
			if n == 80 {
				fmt.Println("    ...")
				break
			}
			if o != "" && o != "FAIL" && !strings.HasPrefix(o, "FAIL\t") && !strings.HasPrefix(o, "ok  \t") {
				fmt.Printf("    %s\n", o)
				n++
			}
		}
	}
	fmt.Printf("go: %d passed, %d failed, %d skipped\n", passed, failed, skipped)
	if failed > 0 {
		os.Exit(1)
	}
}
