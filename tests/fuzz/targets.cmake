# Every external input parser has a target here.
br2k_fuzz_target(run_state run_state_fuzz.cc br2k_common)
br2k_fuzz_target(replication_http_request replication_http_request_fuzz.cc br2k_http)
br2k_fuzz_target(replication_log_entry replication_log_entry_fuzz.cc br2k_replication_core)
br2k_fuzz_target(eth_rlp eth_rlp_fuzz.cc br2k_eth)
br2k_fuzz_target(eth_abi eth_abi_fuzz.cc br2k_eth)
br2k_fuzz_target(eth_rpc_response eth_rpc_response_fuzz.cc br2k_eth)
