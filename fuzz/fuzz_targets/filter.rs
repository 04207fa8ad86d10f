#![no_main]

libfuzzer_sys::fuzz_target!(|data: &[u8]| {
    kms_responder_fuzz::bodies::filter(data);
});
