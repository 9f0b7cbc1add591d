//! Serde helpers for Go's encoding quirks: struct-typed fields that are `null` when empty, and
//! maps or lists that older probes send as `null`.

use serde::{Deserialize, Deserializer, Serialize, Serializer};

/// Reads `null` as the empty value, as Go's decoder leaves a nil map or slice.
pub fn null_as_default<'de, D, T>(d: D) -> Result<T, D::Error>
where
    D: Deserializer<'de>,
    T: Deserialize<'de> + Default,
{
    Ok(Option::<T>::deserialize(d)?.unwrap_or_default())
}

/// Writes an empty collection as `null`, as Go writes a nil map or slice inside a struct field
/// that `omitempty` never drops.
pub fn empty_as_null<S, T>(value: &T, s: S) -> Result<S::Ok, S::Error>
where
    S: Serializer,
    T: Serialize + IsEmpty,
{
    if value.is_empty() {
        s.serialize_none()
    } else {
        value.serialize(s)
    }
}

pub trait IsEmpty {
    fn is_empty(&self) -> bool;
}

impl<K, V> IsEmpty for std::collections::BTreeMap<K, V> {
    fn is_empty(&self) -> bool {
        std::collections::BTreeMap::is_empty(self)
    }
}

impl<T> IsEmpty for std::collections::BTreeSet<T> {
    fn is_empty(&self) -> bool {
        std::collections::BTreeSet::is_empty(self)
    }
}

impl<T> IsEmpty for Vec<T> {
    fn is_empty(&self) -> bool {
        Vec::is_empty(self)
    }
}

pub fn is_zero_f64(v: &f64) -> bool {
    *v == 0.0
}

pub fn is_zero_i64(v: &i64) -> bool {
    *v == 0
}

/// JSON has no NaN or infinity: serde_json writes them as `null`, which reads back as NaN.
pub fn float_or_null<'de, D: Deserializer<'de>>(d: D) -> Result<f64, D::Error> {
    Ok(Option::<f64>::deserialize(d)?.unwrap_or(f64::NAN))
}

impl<K: Ord, V> IsEmpty for super::compact::VecMap<K, V> {
    fn is_empty(&self) -> bool {
        super::compact::VecMap::is_empty(self)
    }
}

impl<T: Ord> IsEmpty for super::compact::VecSet<T> {
    fn is_empty(&self) -> bool {
        super::compact::VecSet::is_empty(self)
    }
}
