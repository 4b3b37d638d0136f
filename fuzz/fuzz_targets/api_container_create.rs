#![no_main]
libfuzzer_sys::fuzz_target!(|data: &[u8]| rrun_fuzz::api_container_create(data));
