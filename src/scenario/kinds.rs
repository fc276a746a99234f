//! The closed sets of words a scenario passes to Kubernetes: image pull policy, concurrency
//! policy, toleration operator and effect.
//!
//! Each is an enum with an `Other(String)` variant instead of a plain serde enum: a serde enum
//! would stop parsing at the first unknown word, while lint reports every problem at once, with
//! the key path, the value and the allowed values (see `validate::word_problem`).

use std::fmt;

/// Declares an enum of Kubernetes words: `(Variant, "Word")` pairs plus `Other(String)`, read
/// from and written as the word (`serde(from = "String", into = "String")`).
macro_rules! words {
    ($(#[$meta:meta])* $name:ident { $($(#[$vmeta:meta])* $variant:ident => $word:literal),+ $(,)? }) => {
        $(#[$meta])*
        #[derive(Debug, Clone, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
        #[serde(from = "String", into = "String")]
        pub enum $name {
            $($(#[$vmeta])* $variant,)+
            /// A word Kubernetes does not accept; lint reports it.
            Other(String),
        }

        impl $name {
            /// The words Kubernetes accepts, in the order messages list them.
            pub const ALLOWED: &'static [&'static str] = &[$($word),+];

            /// The word as written in a scenario and sent to the apiserver.
            pub fn as_str(&self) -> &str {
                match self {
                    $($name::$variant => $word,)+
                    $name::Other(word) => word,
                }
            }

            /// The unknown word, if this is not one Kubernetes accepts.
            pub fn unknown(&self) -> Option<&str> {
                match self {
                    $name::Other(word) => Some(word),
                    _ => None,
                }
            }
        }

        impl schemars::JsonSchema for $name {
            fn schema_name() -> std::borrow::Cow<'static, str> {
                stringify!($name).into()
            }

            fn json_schema(generator: &mut schemars::SchemaGenerator) -> schemars::Schema {
                <String as schemars::JsonSchema>::json_schema(generator)
            }
        }

        impl From<String> for $name {
            fn from(word: String) -> $name {
                match word.as_str() {
                    $($word => $name::$variant,)+
                    _ => $name::Other(word),
                }
            }
        }

        impl From<&str> for $name {
            fn from(word: &str) -> $name {
                $name::from(word.to_string())
            }
        }

        impl From<$name> for String {
            fn from(value: $name) -> String {
                value.as_str().to_string()
            }
        }

        impl PartialEq<&str> for $name {
            fn eq(&self, other: &&str) -> bool {
                self.as_str() == *other
            }
        }

        impl fmt::Display for $name {
            fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str(self.as_str())
            }
        }
    };
}

words! {
    /// A container's `imagePullPolicy`.
    ImagePullPolicy {
        Always => "Always",
        IfNotPresent => "IfNotPresent",
        Never => "Never",
    }
}

words! {
    /// A CronJob's `concurrencyPolicy`: what the controller does when a run is still going at
    /// the next tick.
    ConcurrencyPolicy {
        Allow => "Allow",
        Forbid => "Forbid",
        Replace => "Replace",
    }
}

words! {
    /// A toleration's `operator`.
    TolerationOperator {
        Equal => "Equal",
        Exists => "Exists",
    }
}

words! {
    /// A toleration's `effect`; left out, a toleration matches every effect.
    TolerationEffect {
        NoSchedule => "NoSchedule",
        PreferNoSchedule => "PreferNoSchedule",
        NoExecute => "NoExecute",
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn known_words_become_variants_and_unknown_ones_are_kept() {
        assert_eq!(ImagePullPolicy::from("Never"), ImagePullPolicy::Never);
        assert_eq!(
            ConcurrencyPolicy::from("allow"),
            ConcurrencyPolicy::Other("allow".into())
        );
        assert_eq!(ConcurrencyPolicy::from("allow").unknown(), Some("allow"));
        assert_eq!(TolerationEffect::NoExecute.unknown(), None);
    }

    #[test]
    fn words_round_trip_through_yaml_and_json_as_written() {
        let op: TolerationOperator = serde_saphyr::from_str("Exist").unwrap_or(
            TolerationOperator::Equal, // unreachable: any string parses
        );
        assert_eq!(op, TolerationOperator::Other("Exist".into()));
        assert_eq!(
            serde_json::to_string(&TolerationOperator::Exists).unwrap_or_default(),
            "\"Exists\""
        );
        assert_eq!(serde_json::to_string(&op).unwrap_or_default(), "\"Exist\"");
    }
}
