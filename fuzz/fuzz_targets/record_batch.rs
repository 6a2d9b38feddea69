//! Any bytes as a produced record batch: validation must refuse or accept, never panic.
//!
//! The length, magic and CRC fields are fixed up first, so that the fuzzer spends its time in
//! record parsing and decompression rather than on checksums it cannot guess.
#![no_main]
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let mut batch = data.to_vec();
    if batch.len() >= 61 {
        let len = (batch.len() - 12) as i32;
        batch[8..12].copy_from_slice(&len.to_be_bytes());
        batch[16] = 2;
        let crc = crc32c::crc32c(&batch[21..]);
        batch[17..21].copy_from_slice(&crc.to_be_bytes());
    }
    let _ = tributary_broker::log::validate_batch(&batch);
});
