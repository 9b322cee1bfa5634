# Every external input parser has a target here.
br2k_fuzz_target(run_state run_state_fuzz.cc br2k_common)
br2k_fuzz_target(replication_http_request replication_http_request_fuzz.cc br2k_http)
br2k_fuzz_target(replication_log_entry replication_log_entry_fuzz.cc br2k_replication_core)
