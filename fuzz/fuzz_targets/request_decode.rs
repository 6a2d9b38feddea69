//! Any bytes as a request frame: decoding must return an error or succeed, never panic or hang.
#![no_main]
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let _ = tributary_broker::dispatch::decode_frame(bytes::Bytes::copy_from_slice(data));
});
