# Every external input parser has a target here.
br2k_fuzz_target(run_state run_state_fuzz.cc br2k_common)
