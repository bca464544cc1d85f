// Command benchtool is the Go half of bench/run.sh: it writes the
// protoset ghz needs, turns one ghz run into one result row, and prints
// the table of all rows. Shell does the process juggling; this does what
// shell does badly (descriptors, JSON, medians).
package main

import (
	"fmt"
	"os"
)

const usage = `usage:
  benchtool protoset FILE
  benchtool record -target T -conns N -rep R -ticks T -clk-tck HZ GHZ.json >> results.tsv
  benchtool table results.tsv`

func main() {
	if len(os.Args) < 2 {
		fmt.Fprintln(os.Stderr, usage)
		os.Exit(2)
	}
	var err error
	switch os.Args[1] {
	case "protoset":
		err = protosetMain(os.Args[2:])
	case "record":
		err = recordMain(os.Args[2:], os.Stdout)
	case "table":
		err = tableMain(os.Args[2:], os.Stdout)
	default:
		fmt.Fprintln(os.Stderr, usage)
		os.Exit(2)
	}
	if err != nil {
		fmt.Fprintln(os.Stderr, "benchtool:", err)
		os.Exit(1)
	}
}
