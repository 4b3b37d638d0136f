#![no_main]
libfuzzer_sys::fuzz_target!(|data: &[u8]| rrun_fuzz::api_network_create(data));
