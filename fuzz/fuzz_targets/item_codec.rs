//! The stored item encoding and the key encodings: any bytes decode or fail, and what
//! decodes encodes back to bytes that decode to the same item.
#![no_main]

use libfuzzer_sys::fuzz_target;
use sealdb_dynamodb::codec::{ScalarType, decode_item, decode_key, encode_item, encode_key};

fuzz_target!(|data: &[u8]| {
    if let Ok(item) = decode_item(data) {
        let again = encode_item(&item);
        assert_eq!(decode_item(&again).ok(), Some(item), "item round trip");
    }
    for t in [ScalarType::S, ScalarType::N, ScalarType::B] {
        if let Ok(key) = decode_key(t, data) {
            let again = encode_key(&key).expect("a decoded key encodes");
            assert_eq!(decode_key(t, &again).ok(), Some(key), "key round trip");
        }
    }
});
