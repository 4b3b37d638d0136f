#![no_main]
libfuzzer_sys::fuzz_target!(|data: &[u8]| rrun_fuzz::dns_message(data));
