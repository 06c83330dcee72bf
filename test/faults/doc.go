// Package faults holds healthd's reliability suites and no code of its own:
// the fault suite (every dependency type refused, hanging, black-holed, slow,
// killed mid-probe and restarted, run through the runner with real configs,
// real servers and real sockets), the leak check (goroutines and file
// descriptors after a thousand failing runs), and the secrets test (a known
// password in every credential, searched for in every response, metric and
// log line). See docs/reliability.md.
package faults
