// Command amtsform compiles, tests and serves Amtsform service definitions.
package main

import "os"

func main() { os.Exit(Main()) }
