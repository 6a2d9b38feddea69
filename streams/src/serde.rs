//! Serdes: how keys and values become bytes and back, byte for byte as Kafka's built-in serdes
//! write them (big-endian integers and floats, UTF-8 strings), so that a Tributary Streams app
//! and a Java one read each other's topics.
//!
//! Kafka's serdes map a null record field to a null object. Here nullability is in the type: a
//! `Serde<String>` refuses a null field with a clear error, and [`Serdes::nullable`] makes a
//! `Serde<Option<String>>` for topics with null keys or tombstones (`None` is null).

use std::sync::Arc;

use crate::processor::{Header, StreamsError};

/// A key or value that could not be (de)serialized; the message is Kafka's where Kafka has one.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{0}")]
pub struct SerdeError(pub String);

/// Turns values of `T` into the bytes of a record field and back.
pub trait Serde<T>: Send + Sync {
    /// The bytes of `value` (`None`: a null field).
    fn serialize(&self, topic: &str, value: &T) -> Result<Option<Vec<u8>>, SerdeError>;
    /// The value in `data` (`None`: a null field).
    fn deserialize(&self, topic: &str, data: Option<&[u8]>) -> Result<T, SerdeError>;
    /// The value in `data` of a record with `headers`, as Kafka's
    /// `Deserializer.deserialize(topic, headers, data)`: sources read records with it (by
    /// default the headers are not looked at); stores, which keep no headers, do not.
    fn deserialize_with_headers(
        &self,
        topic: &str,
        headers: &[Header],
        data: Option<&[u8]>,
    ) -> Result<T, SerdeError> {
        let _ = headers;
        self.deserialize(topic, data)
    }
    /// Whether `value` is written as a null field (only a nullable serde's `None` is).
    fn is_null(&self, value: &T) -> bool {
        let _ = value;
        false
    }
}

/// A shareable serde, as the DSL keeps them.
pub type SharedSerde<T> = Arc<dyn Serde<T>>;

/// A record's key and value bytes (`None`: null).
pub(crate) type FieldBytes = (Option<Vec<u8>>, Option<Vec<u8>>);

/// The bytes of a record's key and value, errors naming the field and the topic.
pub(crate) fn encode<K, V>(
    serdes: (&SharedSerde<K>, &SharedSerde<V>),
    topic: &str,
    key: &K,
    value: &V,
) -> Result<FieldBytes, StreamsError> {
    let k = serdes
        .0
        .serialize(topic, key)
        .map_err(|e| field_error("key", topic, e))?;
    let v = serdes
        .1
        .serialize(topic, value)
        .map_err(|e| field_error("value", topic, e))?;
    Ok((k, v))
}

/// A record's key and value from their bytes (and its headers), errors naming the field and
/// the topic.
pub(crate) fn decode<K, V>(
    serdes: (&SharedSerde<K>, &SharedSerde<V>),
    topic: &str,
    key: Option<&[u8]>,
    value: Option<&[u8]>,
    headers: &[Header],
) -> Result<(K, V), StreamsError> {
    let k = serdes
        .0
        .deserialize_with_headers(topic, headers, key)
        .map_err(|e| field_error("key", topic, e))?;
    let v = serdes
        .1
        .deserialize_with_headers(topic, headers, value)
        .map_err(|e| field_error("value", topic, e))?;
    Ok((k, v))
}

/// The bytes of one field (`what`: "key" or "value"), errors naming it and the topic (or store).
pub(crate) fn to_bytes<T>(
    serde: &SharedSerde<T>,
    what: &'static str,
    topic: &str,
    value: &T,
) -> Result<Option<Vec<u8>>, StreamsError> {
    serde
        .serialize(topic, value)
        .map_err(|e| field_error(what, topic, e))
}

/// One field from its bytes, errors naming it and the topic (or store).
pub(crate) fn from_bytes<T>(
    serde: &SharedSerde<T>,
    what: &'static str,
    topic: &str,
    data: Option<&[u8]>,
) -> Result<T, StreamsError> {
    serde
        .deserialize(topic, data)
        .map_err(|e| field_error(what, topic, e))
}

/// The record a sink writes for `record` to `topic`, with these serdes.
pub(crate) fn sink_record<K: 'static, V: 'static>(
    serdes: (&SharedSerde<K>, &SharedSerde<V>),
    topic: &Arc<str>,
    record: &crate::processor::DynRecord,
) -> Result<crate::processor::OutputRecord, StreamsError> {
    use crate::processor::typed;
    let (key, value) = encode(
        serdes,
        topic,
        typed::<K>(&record.key)?,
        typed::<V>(&record.value)?,
    )?;
    Ok(crate::processor::OutputRecord {
        topic: Arc::clone(topic),
        partition: None,
        key,
        value,
        timestamp: record.timestamp,
        headers: record.headers.as_ref().clone(),
    })
}

// (called on the error only: the topic is copied when there is an error to name it in)
fn field_error(what: &'static str, topic: &str, source: SerdeError) -> StreamsError {
    StreamsError::Serde {
        what,
        topic: topic.to_string(),
        source,
    }
}

fn not_null<'a>(data: Option<&'a [u8]>, name: &str) -> Result<&'a [u8], SerdeError> {
    data.ok_or_else(|| {
        SerdeError(format!(
            "{name} received a null field; use Serdes::nullable for topics with null keys or values"
        ))
    })
}

fn fixed<const N: usize>(data: &[u8], name: &str) -> Result<[u8; N], SerdeError> {
    data.try_into()
        .map_err(|_| SerdeError(format!("Size of data received by {name} is not {N}")))
}

/// UTF-8 strings (`org.apache.kafka.common.serialization.StringSerializer`); bytes that are not
/// UTF-8 decode with U+FFFD in their place, as Java decodes them.
#[derive(Debug, Clone, Copy, Default)]
pub struct StringSerde;

impl Serde<String> for StringSerde {
    fn serialize(&self, _: &str, value: &String) -> Result<Option<Vec<u8>>, SerdeError> {
        Ok(Some(value.as_bytes().to_vec()))
    }
    fn deserialize(&self, _: &str, data: Option<&[u8]>) -> Result<String, SerdeError> {
        Ok(String::from_utf8_lossy(not_null(data, "StringDeserializer")?).into_owned())
    }
}

/// Raw bytes (`ByteArraySerializer`).
#[derive(Debug, Clone, Copy, Default)]
pub struct BytesSerde;

impl Serde<Vec<u8>> for BytesSerde {
    fn serialize(&self, _: &str, value: &Vec<u8>) -> Result<Option<Vec<u8>>, SerdeError> {
        Ok(Some(value.clone()))
    }
    fn deserialize(&self, _: &str, data: Option<&[u8]>) -> Result<Vec<u8>, SerdeError> {
        Ok(not_null(data, "ByteArrayDeserializer")?.to_vec())
    }
}

macro_rules! number_serde {
    ($name:ident, $t:ty, $n:literal, $deser:literal, $doc:literal) => {
        #[doc = $doc]
        #[derive(Debug, Clone, Copy, Default)]
        pub struct $name;

        impl Serde<$t> for $name {
            fn serialize(&self, _: &str, value: &$t) -> Result<Option<Vec<u8>>, SerdeError> {
                Ok(Some(value.to_be_bytes().to_vec()))
            }
            fn deserialize(&self, _: &str, data: Option<&[u8]>) -> Result<$t, SerdeError> {
                let data = not_null(data, $deser)?;
                Ok(<$t>::from_be_bytes(fixed::<$n>(data, $deser)?))
            }
        }
    };
}

number_serde!(
    ShortSerde,
    i16,
    2,
    "ShortDeserializer",
    "16-bit big-endian integers (`ShortSerializer`)."
);
number_serde!(
    IntegerSerde,
    i32,
    4,
    "IntegerDeserializer",
    "32-bit big-endian integers (`IntegerSerializer`)."
);
number_serde!(
    LongSerde,
    i64,
    8,
    "LongDeserializer",
    "64-bit big-endian integers (`LongSerializer`)."
);
// (Kafka's float and double deserializers name no type in their size error)
number_serde!(
    FloatSerde,
    f32,
    4,
    "Deserializer",
    "IEEE 754 single precision, big-endian (`FloatSerializer`; NaN payloads kept)."
);

/// IEEE 754 double precision, big-endian (`DoubleSerializer`: every NaN is written as the one
/// canonical NaN, as Java's `doubleToLongBits` writes it).
#[derive(Debug, Clone, Copy, Default)]
pub struct DoubleSerde;

impl Serde<f64> for DoubleSerde {
    fn serialize(&self, _: &str, value: &f64) -> Result<Option<Vec<u8>>, SerdeError> {
        let bits = if value.is_nan() {
            0x7ff8_0000_0000_0000
        } else {
            value.to_bits()
        };
        Ok(Some(bits.to_be_bytes().to_vec()))
    }
    fn deserialize(&self, _: &str, data: Option<&[u8]>) -> Result<f64, SerdeError> {
        let data = not_null(data, "Deserializer")?;
        Ok(f64::from_be_bytes(fixed::<8>(data, "Deserializer")?))
    }
}

/// One byte, 1 for true and 0 for false (`BooleanSerializer`).
#[derive(Debug, Clone, Copy, Default)]
pub struct BooleanSerde;

impl Serde<bool> for BooleanSerde {
    fn serialize(&self, _: &str, value: &bool) -> Result<Option<Vec<u8>>, SerdeError> {
        Ok(Some(vec![u8::from(*value)]))
    }
    fn deserialize(&self, _: &str, data: Option<&[u8]>) -> Result<bool, SerdeError> {
        let [b] = fixed::<1>(
            not_null(data, "BooleanDeserializer")?,
            "BooleanDeserializer",
        )?;
        match b {
            0 => Ok(false),
            1 => Ok(true),
            // (Java prints the byte signed)
            other => Err(SerdeError(format!(
                "Unexpected byte received by BooleanDeserializer: {}",
                other as i8
            ))),
        }
    }
}

/// JSON through serde (`serde_json`): any type that derives `Serialize` and `Deserialize`.
pub struct JsonSerde<T>(std::marker::PhantomData<fn() -> T>);

impl<T> Default for JsonSerde<T> {
    fn default() -> Self {
        JsonSerde(std::marker::PhantomData)
    }
}

impl<T: serde::Serialize + serde::de::DeserializeOwned> Serde<T> for JsonSerde<T> {
    fn serialize(&self, _: &str, value: &T) -> Result<Option<Vec<u8>>, SerdeError> {
        serde_json::to_vec(value)
            .map(Some)
            .map_err(|e| SerdeError(format!("Error serializing JSON message: {e}")))
    }
    fn deserialize(&self, _: &str, data: Option<&[u8]>) -> Result<T, SerdeError> {
        serde_json::from_slice(not_null(data, "JsonDeserializer")?)
            .map_err(|e| SerdeError(format!("Error deserializing JSON message: {e}")))
    }
}

/// `Option<T>` over a serde of `T`: `None` is a null field (no key, or a tombstone).
pub struct Nullable<T>(SharedSerde<T>);

impl<T> Serde<Option<T>> for Nullable<T> {
    fn serialize(&self, topic: &str, value: &Option<T>) -> Result<Option<Vec<u8>>, SerdeError> {
        match value {
            Some(v) => self.0.serialize(topic, v),
            None => Ok(None),
        }
    }
    fn deserialize(&self, topic: &str, data: Option<&[u8]>) -> Result<Option<T>, SerdeError> {
        match data {
            Some(_) => self.0.deserialize(topic, data).map(Some),
            None => Ok(None),
        }
    }
    fn deserialize_with_headers(
        &self,
        topic: &str,
        headers: &[Header],
        data: Option<&[u8]>,
    ) -> Result<Option<T>, SerdeError> {
        match data {
            Some(_) => self
                .0
                .deserialize_with_headers(topic, headers, data)
                .map(Some),
            None => Ok(None),
        }
    }
    fn is_null(&self, value: &Option<T>) -> bool {
        value.is_none()
    }
}

/// The built-in serdes, as Kafka's `Serdes` class offers them.
pub struct Serdes;

impl Serdes {
    /// UTF-8 strings.
    pub fn string() -> SharedSerde<String> {
        Arc::new(StringSerde)
    }
    /// Raw bytes.
    pub fn byte_array() -> SharedSerde<Vec<u8>> {
        Arc::new(BytesSerde)
    }
    /// `i16`, big-endian.
    pub fn short() -> SharedSerde<i16> {
        Arc::new(ShortSerde)
    }
    /// `i32`, big-endian.
    pub fn integer() -> SharedSerde<i32> {
        Arc::new(IntegerSerde)
    }
    /// `i64`, big-endian.
    pub fn long() -> SharedSerde<i64> {
        Arc::new(LongSerde)
    }
    /// `f32`, big-endian.
    pub fn float() -> SharedSerde<f32> {
        Arc::new(FloatSerde)
    }
    /// `f64`, big-endian.
    pub fn double() -> SharedSerde<f64> {
        Arc::new(DoubleSerde)
    }
    /// `bool`, one byte.
    pub fn boolean() -> SharedSerde<bool> {
        Arc::new(BooleanSerde)
    }
    /// JSON through serde.
    pub fn json<T: serde::Serialize + serde::de::DeserializeOwned + 'static>() -> SharedSerde<T> {
        Arc::new(JsonSerde::<T>::default())
    }
    /// `Option<T>` with `None` as a null field.
    pub fn nullable<T: 'static>(inner: SharedSerde<T>) -> SharedSerde<Option<T>> {
        Arc::new(Nullable(inner))
    }
    /// Time-windowed keys (`inner`'s bytes, then the window start), for windows of
    /// `window_size_ms` (the reader's window end is start + size): Kafka's
    /// `WindowedSerdes.timeWindowedSerdeFrom`.
    pub fn time_windowed<K: 'static>(
        inner: SharedSerde<K>,
        window_size_ms: i64,
    ) -> SharedSerde<crate::Windowed<K>> {
        Arc::new(crate::window::TimeWindowedSerde::new(inner, window_size_ms))
    }
    /// Session-windowed keys (`inner`'s bytes, then the end, then the start): Kafka's
    /// `WindowedSerdes.sessionWindowedSerdeFrom`.
    pub fn session_windowed<K: 'static>(inner: SharedSerde<K>) -> SharedSerde<crate::Windowed<K>> {
        Arc::new(crate::window::SessionWindowedSerde::new(inner))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn round<T: PartialEq + std::fmt::Debug>(s: &SharedSerde<T>, v: T, bytes: &[u8]) {
        assert_eq!(s.serialize("t", &v).unwrap().as_deref(), Some(bytes));
        assert_eq!(s.deserialize("t", Some(bytes)).unwrap(), v);
    }

    #[test]
    fn numbers_are_big_endian_as_kafka_writes_them() {
        round(&Serdes::short(), -2, &[0xff, 0xfe]);
        round(&Serdes::integer(), 258, &[0, 0, 1, 2]);
        round(&Serdes::long(), -1, &[0xff; 8]);
        round(&Serdes::float(), 1.5, &[0x3f, 0xc0, 0, 0]);
        round(&Serdes::double(), 1.5, &[0x3f, 0xf8, 0, 0, 0, 0, 0, 0]);
        round(&Serdes::boolean(), true, &[1]);
        round(&Serdes::string(), "héllo".to_string(), "héllo".as_bytes());
    }

    #[test]
    fn double_nan_is_canonical_and_wrong_sizes_get_kafkas_messages() {
        let nan = f64::from_bits(0x7ff0_0000_0000_0001);
        assert_eq!(
            Serdes::double().serialize("t", &nan).unwrap().unwrap(),
            vec![0x7f, 0xf8, 0, 0, 0, 0, 0, 0]
        );
        let err = Serdes::integer()
            .deserialize("t", Some(&[1, 2]))
            .unwrap_err();
        assert_eq!(
            err.0,
            "Size of data received by IntegerDeserializer is not 4"
        );
        let err = Serdes::double().deserialize("t", Some(&[1])).unwrap_err();
        assert_eq!(err.0, "Size of data received by Deserializer is not 8");
        let err = Serdes::boolean()
            .deserialize("t", Some(&[0xff]))
            .unwrap_err();
        assert_eq!(err.0, "Unexpected byte received by BooleanDeserializer: -1");
    }

    #[test]
    fn nulls_need_a_nullable_serde() {
        let err = Serdes::string().deserialize("t", None).unwrap_err();
        assert!(err.0.contains("Serdes::nullable"), "{err}");
        let s = Serdes::nullable(Serdes::string());
        assert_eq!(s.deserialize("t", None).unwrap(), None);
        assert_eq!(s.serialize("t", &None).unwrap(), None);
        round(&s, Some("x".to_string()), b"x");
    }

    #[test]
    fn strings_decode_like_java_and_json_round_trips() {
        assert_eq!(
            Serdes::string()
                .deserialize("t", Some(&[b'a', 0xff]))
                .unwrap(),
            "a\u{fffd}"
        );
        #[derive(serde::Serialize, serde::Deserialize, PartialEq, Debug)]
        struct Order {
            id: u32,
            item: String,
        }
        let s = Serdes::json::<Order>();
        let o = Order {
            id: 7,
            item: "tea".into(),
        };
        round(&s, o, br#"{"id":7,"item":"tea"}"#);
        assert!(s.deserialize("t", Some(b"{")).is_err());
    }
}
