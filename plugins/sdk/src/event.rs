//! Conveniences on the contract's [`Event`]: custom properties by key, and the closed sets
//! (`channel`, `device`) as enums.

use std::fmt;
use std::str::FromStr;

use crate::Event;

/// A name that is not one of a closed set's names.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct UnknownName {
    /// What the set is (`channel`, `device`).
    pub set: &'static str,
    /// The name that was not recognized.
    pub name: String,
}

impl fmt::Display for UnknownName {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "unknown {} `{}`", self.set, self.name)
    }
}

impl std::error::Error for UnknownName {}

macro_rules! closed_set {
    ($(#[$doc:meta])* $name:ident, $set:literal, { $($(#[$vdoc:meta])* $variant:ident => $text:literal,)* }) => {
        $(#[$doc])*
        #[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
        pub enum $name {
            $($(#[$vdoc])* $variant,)*
        }

        impl $name {
            /// Every value, in the order of the contract.
            pub const ALL: &'static [$name] = &[$($name::$variant,)*];

            /// The contract's name of this value.
            pub fn as_str(self) -> &'static str {
                match self {
                    $($name::$variant => $text,)*
                }
            }
        }

        impl FromStr for $name {
            type Err = UnknownName;

            fn from_str(name: &str) -> Result<Self, UnknownName> {
                match name {
                    $($text => Ok($name::$variant),)*
                    _ => Err(UnknownName { set: $set, name: name.to_string() }),
                }
            }
        }

        impl fmt::Display for $name {
            fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str(self.as_str())
            }
        }
    };
}

closed_set!(
    /// The acquisition channel of a visit (the event's `channel`).
    Channel, "channel", {
        /// No referrer and no campaign tags.
        Direct => "direct",
        /// Unpaid results of a search engine.
        OrganicSearch => "organic_search",
        /// Paid search ads.
        PaidSearch => "paid_search",
        /// Unpaid links from a social network.
        OrganicSocial => "organic_social",
        /// Paid social ads.
        PaidSocial => "paid_social",
        /// Links in emails and newsletters.
        Email => "email",
        /// Any other linking site.
        Referral => "referral",
        /// Affiliate programmes.
        Affiliates => "affiliates",
        /// Display and banner ads.
        Display => "display",
        /// Unpaid video platforms.
        OrganicVideo => "organic_video",
        /// Paid video ads.
        PaidVideo => "paid_video",
        /// Shopping platforms, unpaid.
        OrganicShopping => "organic_shopping",
        /// Shopping platforms, paid.
        PaidShopping => "paid_shopping",
        /// Text messages.
        Sms => "sms",
        /// Audio ads and podcasts.
        Audio => "audio",
        /// Paid, but none of the above.
        PaidOther => "paid_other",
    }
);

closed_set!(
    /// The class of device (the event's `device`).
    Device, "device", {
        /// Could not be told.
        Unknown => "unknown",
        /// Desktop or laptop computer.
        Desktop => "desktop",
        /// Phone.
        Mobile => "mobile",
        /// Tablet.
        Tablet => "tablet",
    }
);

impl Event {
    /// The value of the custom property `key`.
    pub fn prop(&self, key: &str) -> Option<&str> {
        self.props.iter().find(|(k, _)| k == key).map(|(_, value)| value.as_str())
    }

    /// Sets the custom property `key`, replacing its value if it exists (keys stay unique).
    pub fn set_prop(&mut self, key: impl Into<String>, value: impl Into<String>) {
        let key = key.into();
        let value = value.into();
        match self.props.iter_mut().find(|(k, _)| *k == key) {
            Some((_, existing)) => *existing = value,
            None => self.props.push((key, value)),
        }
    }

    /// Removes the custom property `key` and returns its value.
    pub fn remove_prop(&mut self, key: &str) -> Option<String> {
        let index = self.props.iter().position(|(k, _)| k == key)?;
        Some(self.props.remove(index).1)
    }

    /// The event's channel (`None` only if the host sent a name this SDK does not know).
    pub fn channel(&self) -> Option<Channel> {
        self.channel.parse().ok()
    }

    /// Sets the event's channel.
    pub fn set_channel(&mut self, channel: Channel) {
        self.channel = channel.as_str().to_string();
    }

    /// The event's device class (`None` only if the host sent a name this SDK does not know).
    pub fn device(&self) -> Option<Device> {
        self.device.parse().ok()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::testing;

    #[test]
    fn names_round_trip() {
        for channel in Channel::ALL {
            assert_eq!(channel.as_str().parse::<Channel>(), Ok(*channel));
        }
        assert_eq!(Channel::ALL.len(), 16);
        for device in Device::ALL {
            assert_eq!(device.as_str().parse::<Device>(), Ok(*device));
        }
        assert_eq!(
            "Organic Search".parse::<Channel>(),
            Err(UnknownName { set: "channel", name: "Organic Search".into() })
        );
    }

    #[test]
    fn props_by_key_keep_keys_unique() {
        let mut event = testing::pageview("/");
        event.set_prop("plan", "free");
        event.set_prop("plan", "pro");
        event.set_prop("seats", "3");
        assert_eq!(event.props, vec![("plan".into(), "pro".into()), ("seats".into(), "3".into())]);
        assert_eq!(event.prop("plan"), Some("pro"));
        assert_eq!(event.remove_prop("plan"), Some("pro".into()));
        assert_eq!(event.remove_prop("plan"), None);
        assert_eq!(event.prop("seats"), Some("3"));
    }

    #[test]
    fn channel_accessors() {
        let mut event = testing::pageview("/");
        assert_eq!(event.channel(), Some(Channel::Direct));
        event.set_channel(Channel::PaidSocial);
        assert_eq!(event.channel, "paid_social");
        assert_eq!(event.device(), Some(Device::Desktop));
    }
}
