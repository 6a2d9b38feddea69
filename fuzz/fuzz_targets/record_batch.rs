//! Any bytes as a produced record batch: validation must refuse or accept, never panic.
#![no_main]
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let _ = tributary_broker::log::validate_batch(data);
});
