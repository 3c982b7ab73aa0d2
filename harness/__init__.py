"""Driving a running Pictor stack from outside, as the tests, the benchmarks and the
demo seed all do: one GraphQL client, one sign-up, a free port, one "events settled"
check, and the waits around them."""
