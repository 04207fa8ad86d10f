#![no_main]

libfuzzer_sys::fuzz_target!(|data: &[u8]| {
    kms_responder_fuzz::bodies::alert(data);
});
