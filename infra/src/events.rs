//! The domain-event contract shared by the vertical (producer, through the outbox) and the
//! engines (consumers): the envelope as stored in `event_outbox` and carried on the stream, and
//! [`Event`], one typed payload per event type.
//!
//! The wire format is the envelope's JSON with the payload as a JSON object whose fields are the
//! payload struct's (decimals as strings, as the vertical has always written them), so events
//! already in outboxes and streams still decode. `version` is an integer schema version of the
//! payload: consumers skip versions newer than they understand instead of failing on them.

use chrono::{DateTime, NaiveDate, Utc};
use rust_decimal::Decimal;
use serde::{Deserialize, Serialize};
use uuid::Uuid;

/// One domain event as stored in `event_outbox` and carried on the stream.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct EventEnvelope {
    /// Producer-assigned id; consumers deduplicate on it (not on the stream id).
    pub event_id: Uuid,
    pub tenant_id: Uuid,
    pub aggregate_type: String,
    pub aggregate_id: Uuid,
    pub event_type: String,
    pub version: i32,
    pub occurred_at: DateTime<Utc>,
    pub payload: serde_json::Value,
}

impl EventEnvelope {
    /// A new event occurring now, version 1.
    pub fn new(tenant_id: Uuid, aggregate_type: &str, aggregate_id: Uuid, event_type: &str, payload: serde_json::Value) -> Self {
        Self {
            event_id: Uuid::new_v4(),
            tenant_id,
            aggregate_type: aggregate_type.to_owned(),
            aggregate_id,
            event_type: event_type.to_owned(),
            version: 1,
            occurred_at: Utc::now(),
            payload,
        }
    }

    /// The envelope of a typed event of `tenant_id`, occurring now: type, version, aggregate and
    /// payload all come from the event, so they cannot disagree.
    pub fn from_event(tenant_id: Uuid, event: &Event) -> Self {
        Self {
            event_id: Uuid::new_v4(),
            tenant_id,
            aggregate_type: event.aggregate_type().to_owned(),
            aggregate_id: event.aggregate_id().unwrap_or(tenant_id),
            event_type: event.event_type().to_owned(),
            version: event.version(),
            occurred_at: Utc::now(),
            payload: event.payload(),
        }
    }
}

/// Postgres channel the vertical NOTIFYs after committing outbox rows; the relay LISTENs on it.
pub const OUTBOX_NOTIFY_CHANNEL: &str = "basecommerce_outbox";

/// A priced line of a quote, an order or a sale, as events carry it.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
pub struct LineItem {
    pub product_id: Uuid,
    #[serde(with = "rust_decimal::serde::str")]
    pub quantity: Decimal,
    #[serde(with = "rust_decimal::serde::str")]
    pub unit_price: Decimal,
    #[serde(with = "rust_decimal::serde::str")]
    pub discount_percent: Decimal,
    #[serde(with = "rust_decimal::serde::str")]
    pub total: Decimal,
}

/// The job site an order goes to, as it was when the event happened (the delivery engine groups
/// by it; later edits of the site do not rewrite history).
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
pub struct Site {
    pub id: Uuid,
    pub name: String,
    #[serde(default)]
    pub address: Option<String>,
    #[serde(default)]
    pub city: Option<String>,
    #[serde(default)]
    pub state: Option<String>,
    #[serde(default)]
    pub postal_code: Option<String>,
}

/// `quote_created`: a draft quote with its priced items.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
pub struct QuoteCreated {
    pub quote_id: Uuid,
    pub number: String,
    pub client_id: Uuid,
    #[serde(default)]
    pub site_id: Option<Uuid>,
    #[serde(default)]
    pub seller_id: Option<Uuid>,
    #[serde(with = "rust_decimal::serde::str")]
    pub discount_percent: Decimal,
    #[serde(with = "rust_decimal::serde::str")]
    pub subtotal: Decimal,
    #[serde(with = "rust_decimal::serde::str")]
    pub total: Decimal,
    pub items: Vec<LineItem>,
}

/// `quote_sent` and `quote_approved`: a quote reached the named step (same payload).
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
pub struct QuoteStep {
    pub quote_id: Uuid,
    pub number: String,
    #[serde(with = "rust_decimal::serde::str")]
    pub total: Decimal,
}

/// `quote_converted`: an approved quote became an order.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
pub struct QuoteConverted {
    pub quote_id: Uuid,
    pub order_id: Uuid,
    pub order_number: String,
}

/// `order_created`: the order made from a quote, with its items.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
pub struct OrderCreated {
    pub order_id: Uuid,
    pub number: String,
    pub quote_id: Uuid,
    pub client_id: Uuid,
    #[serde(default)]
    pub site_id: Option<Uuid>,
    #[serde(with = "rust_decimal::serde::str")]
    pub total: Decimal,
    pub items: Vec<LineItem>,
}

/// `order_status_changed`: `from` and `to` are the vertical's order statuses (`pending`,
/// `preparing`, `out_for_delivery`, `delivered`, `cancelled`), kept as the words on the wire.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
pub struct OrderStatusChanged {
    pub order_id: Uuid,
    pub number: String,
    pub from: String,
    pub to: String,
    #[serde(default)]
    pub site: Option<Site>,
}

/// `sale_recorded`: an order was delivered (once per order); the sale facts come from it.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
pub struct SaleRecorded {
    pub order_id: Uuid,
    pub number: String,
    pub client_id: Uuid,
    #[serde(with = "rust_decimal::serde::str")]
    pub total: Decimal,
    /// When the order was delivered; consumers fall back to the event's time when absent.
    #[serde(default)]
    pub delivered_at: Option<DateTime<Utc>>,
    #[serde(default)]
    pub site: Option<Site>,
    pub items: Vec<LineItem>,
}

/// `stock_received`: a receipt of goods (a positive quantity).
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
pub struct StockReceived {
    pub movement_id: Uuid,
    pub product_id: Uuid,
    #[serde(with = "rust_decimal::serde::str")]
    pub quantity: Decimal,
    #[serde(default)]
    pub supplier_id: Option<Uuid>,
    #[serde(default, with = "rust_decimal::serde::str_option")]
    pub unit_cost: Option<Decimal>,
}

/// `stock_adjusted`: a signed correction of the stock on hand, with its reason.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
pub struct StockAdjusted {
    pub movement_id: Uuid,
    pub product_id: Uuid,
    #[serde(with = "rust_decimal::serde::str")]
    pub quantity: Decimal,
    pub reason: String,
}

/// `supplier_price_changed`: a supplier's price for a product; `old_price` is absent for its first.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
pub struct SupplierPriceChanged {
    pub supplier_id: Uuid,
    pub product_id: Uuid,
    #[serde(default, with = "rust_decimal::serde::str_option")]
    pub old_price: Option<Decimal>,
    #[serde(with = "rust_decimal::serde::str")]
    pub new_price: Decimal,
    pub valid_from: NaiveDate,
}

/// `product_price_changed`: the product's own base price.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
pub struct ProductPriceChanged {
    pub product_id: Uuid,
    #[serde(with = "rust_decimal::serde::str")]
    pub old_price: Decimal,
    #[serde(with = "rust_decimal::serde::str")]
    pub new_price: Decimal,
}

/// `product_image_uploaded`: a checked original waits at `original_key` for its variants.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
pub struct ProductImageUploaded {
    pub product_id: Uuid,
    /// Informational: consumers rebuild keys from the event's tenant and product, never from here.
    pub original_key: String,
}

/// `logo_uploaded`: the tenant's new logo original (the aggregate is the tenant itself).
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
pub struct LogoUploaded {
    /// Informational, as for [`ProductImageUploaded::original_key`].
    pub original_key: String,
}

/// Lists every event type once: its variant, payload struct, wire name, current version and
/// aggregate type. Everything that maps a type to a name or back is generated from this list,
/// so the producer's and the consumers' names cannot drift apart.
macro_rules! events {
    ($( $(#[$doc:meta])* $variant:ident($payload:ty) = $name:literal, version $version:literal, aggregate $aggregate:literal; )*) => {
        /// A domain event the vertical writes, typed. Write it with [`EventEnvelope::from_event`],
        /// read it with [`Event::parse`].
        #[derive(Debug, Clone, PartialEq)]
        pub enum Event {
            $( $(#[$doc])* $variant($payload), )*
        }

        impl Event {
            /// Every event type's wire name.
            pub const TYPES: &'static [&'static str] = &[$($name),*];

            /// The wire name (`event_outbox.event_type`, the stream's `type` field).
            pub fn event_type(&self) -> &'static str {
                match self { $( Self::$variant(_) => $name, )* }
            }

            /// The payload's schema version this code writes (and the newest it reads).
            pub fn version(&self) -> i32 {
                match self { $( Self::$variant(_) => $version, )* }
            }

            pub fn aggregate_type(&self) -> &'static str {
                match self { $( Self::$variant(_) => $aggregate, )* }
            }

            /// The payload as it goes on the wire.
            pub fn payload(&self) -> serde_json::Value {
                let value = match self { $( Self::$variant(p) => serde_json::to_value(p), )* };
                // Plain structs of strings, ids, decimals and dates: serialising cannot fail.
                value.expect("event payloads serialise")
            }

            /// A known type's name, the newest version this code reads and its payload decoded; `None` for an unknown type.
            fn decode(event_type: &str, payload: &serde_json::Value) -> Option<(&'static str, i32, Result<Self, serde_json::Error>)> {
                match event_type {
                    $( $name => Some(($name, $version, <$payload>::deserialize(payload).map(Self::$variant))), )*
                    _ => None,
                }
            }
        }
    };
}

events! {
    QuoteCreated(QuoteCreated) = "quote_created", version 1, aggregate "quote";
    QuoteSent(QuoteStep) = "quote_sent", version 1, aggregate "quote";
    QuoteApproved(QuoteStep) = "quote_approved", version 1, aggregate "quote";
    QuoteConverted(QuoteConverted) = "quote_converted", version 1, aggregate "quote";
    OrderCreated(OrderCreated) = "order_created", version 1, aggregate "order";
    OrderStatusChanged(OrderStatusChanged) = "order_status_changed", version 1, aggregate "order";
    SaleRecorded(SaleRecorded) = "sale_recorded", version 1, aggregate "order";
    StockReceived(StockReceived) = "stock_received", version 1, aggregate "stock";
    StockAdjusted(StockAdjusted) = "stock_adjusted", version 1, aggregate "stock";
    SupplierPriceChanged(SupplierPriceChanged) = "supplier_price_changed", version 1, aggregate "supplier";
    ProductPriceChanged(ProductPriceChanged) = "product_price_changed", version 1, aggregate "product";
    ProductImageUploaded(ProductImageUploaded) = "product_image_uploaded", version 1, aggregate "product";
    LogoUploaded(LogoUploaded) = "logo_uploaded", version 1, aggregate "tenant";
}

/// What [`Event::parse`] made of an envelope. It lives for one dispatch, so the size gap between
/// the variants costs nothing, and boxing `Known` would allocate once per event.
#[allow(clippy::large_enum_variant)]
#[derive(Debug, Clone, PartialEq)]
pub enum Parsed {
    Known(Event),
    /// Not for this code to understand: acknowledged without effect (and logged by the caller).
    Skipped {
        reason: SkipReason,
    },
}

/// Why an envelope was skipped rather than parsed.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum SkipReason {
    #[error("unknown event type {0:?}")]
    UnknownType(String),
    #[error("{event_type} version {version} is newer than the supported {supported}")]
    NewerVersion { event_type: &'static str, version: i32, supported: i32 },
}

/// A known event type whose payload is not what the type promises: retrying cannot help.
#[derive(Debug, thiserror::Error)]
pub enum EventError {
    #[error("{event_type} payload: {source}")]
    Payload { event_type: &'static str, source: serde_json::Error },
}

impl Event {
    /// The one place an envelope becomes a typed event. Unknown types and newer versions are
    /// [`Parsed::Skipped`]; a malformed payload of a known type is an error.
    pub fn parse(envelope: &EventEnvelope) -> Result<Parsed, EventError> {
        let Some((event_type, supported, decoded)) = Self::decode(&envelope.event_type, &envelope.payload) else {
            return Ok(Parsed::Skipped { reason: SkipReason::UnknownType(envelope.event_type.clone()) });
        };
        if envelope.version > supported {
            return Ok(Parsed::Skipped { reason: SkipReason::NewerVersion { event_type, version: envelope.version, supported } });
        }
        decoded.map(Parsed::Known).map_err(|source| EventError::Payload { event_type, source })
    }

    /// The aggregate's id; `None` when the aggregate is the tenant itself (its id is the envelope's
    /// `tenant_id`, which the payload does not repeat).
    pub fn aggregate_id(&self) -> Option<Uuid> {
        Some(match self {
            Self::QuoteCreated(e) => e.quote_id,
            Self::QuoteSent(e) | Self::QuoteApproved(e) => e.quote_id,
            Self::QuoteConverted(e) => e.quote_id,
            Self::OrderCreated(e) => e.order_id,
            Self::OrderStatusChanged(e) => e.order_id,
            Self::SaleRecorded(e) => e.order_id,
            Self::StockReceived(e) => e.product_id,
            Self::StockAdjusted(e) => e.product_id,
            Self::SupplierPriceChanged(e) => e.supplier_id,
            Self::ProductPriceChanged(e) => e.product_id,
            Self::ProductImageUploaded(e) => e.product_id,
            Self::LogoUploaded(_) => return None,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    const TENANT: &str = "7f3c1c8e-2b1a-4c7e-9d51-0a6f0b1e2c3d";
    const A: &str = "11111111-1111-4111-8111-111111111111";
    const B: &str = "22222222-2222-4222-8222-222222222222";
    const C: &str = "33333333-3333-4333-8333-333333333333";
    const D: &str = "44444444-4444-4444-8444-444444444444";

    fn id(s: &str) -> Uuid {
        s.parse().unwrap()
    }

    fn dec(s: &str) -> Decimal {
        s.parse().unwrap()
    }

    /// An envelope exactly as the vertical's outbox row / the relay's stream entry carries it.
    fn wire(event_type: &str, aggregate_type: &str, aggregate_id: &str, version: i32, payload: serde_json::Value) -> EventEnvelope {
        serde_json::from_value(json!({
            "event_id": "9a0e5f1c-8d7b-4c3a-b2e1-f0d9c8b7a6e5",
            "tenant_id": TENANT,
            "aggregate_type": aggregate_type,
            "aggregate_id": aggregate_id,
            "event_type": event_type,
            "version": version,
            "occurred_at": "2026-11-30T14:03:07.123456Z",
            "payload": payload,
        }))
        .unwrap()
    }

    fn known(envelope: &EventEnvelope) -> Event {
        match Event::parse(envelope).unwrap() {
            Parsed::Known(e) => e,
            other => panic!("{} not known: {other:?}", envelope.event_type),
        }
    }

    fn items() -> serde_json::Value {
        json!([
            { "product_id": C, "quantity": "10.000", "unit_price": "32.90", "discount_percent": "5.00", "total": "312.55" },
            { "product_id": D, "quantity": "2.500", "unit_price": "80.00", "discount_percent": "0.00", "total": "200.00" },
        ])
    }

    fn typed_items() -> Vec<LineItem> {
        vec![
            LineItem { product_id: id(C), quantity: dec("10.000"), unit_price: dec("32.90"), discount_percent: dec("5.00"), total: dec("312.55") },
            LineItem { product_id: id(D), quantity: dec("2.500"), unit_price: dec("80.00"), discount_percent: dec("0.00"), total: dec("200.00") },
        ]
    }

    fn site() -> serde_json::Value {
        json!({ "id": D, "name": "Obra Centro", "address": "Rua A, 10", "city": "Campinas", "state": "SP", "postal_code": "13010-100" })
    }

    /// Each case: today's envelope (payload as the vertical's `json!` writes it), and the typed
    /// event it must decode to. Decoding, re-encoding and the envelope's metadata are all checked.
    fn cases() -> Vec<(EventEnvelope, Event)> {
        let typed_site = Site {
            id: id(D),
            name: "Obra Centro".into(),
            address: Some("Rua A, 10".into()),
            city: Some("Campinas".into()),
            state: Some("SP".into()),
            postal_code: Some("13010-100".into()),
        };
        vec![
            (
                wire(
                    "quote_created",
                    "quote",
                    A,
                    1,
                    json!({ "quote_id": A, "number": "Q-000001", "client_id": B, "site_id": D, "seller_id": null,
                            "discount_percent": "2.50", "subtotal": "512.55", "total": "499.74", "items": items() }),
                ),
                Event::QuoteCreated(QuoteCreated {
                    quote_id: id(A),
                    number: "Q-000001".into(),
                    client_id: id(B),
                    site_id: Some(id(D)),
                    seller_id: None,
                    discount_percent: dec("2.50"),
                    subtotal: dec("512.55"),
                    total: dec("499.74"),
                    items: typed_items(),
                }),
            ),
            (
                wire("quote_sent", "quote", A, 1, json!({ "quote_id": A, "number": "Q-000001", "total": "499.74" })),
                Event::QuoteSent(QuoteStep { quote_id: id(A), number: "Q-000001".into(), total: dec("499.74") }),
            ),
            (
                wire("quote_approved", "quote", A, 1, json!({ "quote_id": A, "number": "Q-000001", "total": "499.74" })),
                Event::QuoteApproved(QuoteStep { quote_id: id(A), number: "Q-000001".into(), total: dec("499.74") }),
            ),
            (
                wire("quote_converted", "quote", A, 1, json!({ "quote_id": A, "order_id": B, "order_number": "O-000007" })),
                Event::QuoteConverted(QuoteConverted { quote_id: id(A), order_id: id(B), order_number: "O-000007".into() }),
            ),
            (
                wire(
                    "order_created",
                    "order",
                    B,
                    1,
                    json!({ "order_id": B, "number": "O-000007", "quote_id": A, "client_id": C, "site_id": null, "total": "499.74", "items": items() }),
                ),
                Event::OrderCreated(OrderCreated {
                    order_id: id(B),
                    number: "O-000007".into(),
                    quote_id: id(A),
                    client_id: id(C),
                    site_id: None,
                    total: dec("499.74"),
                    items: typed_items(),
                }),
            ),
            (
                wire(
                    "order_status_changed",
                    "order",
                    B,
                    1,
                    json!({ "order_id": B, "number": "O-000007", "from": "pending", "to": "preparing", "site": site() }),
                ),
                Event::OrderStatusChanged(OrderStatusChanged {
                    order_id: id(B),
                    number: "O-000007".into(),
                    from: "pending".into(),
                    to: "preparing".into(),
                    site: Some(typed_site.clone()),
                }),
            ),
            (
                wire(
                    "sale_recorded",
                    "order",
                    B,
                    1,
                    json!({ "order_id": B, "number": "O-000007", "client_id": C, "total": "499.74", "delivered_at": "2026-11-30T14:03:07.120001Z",
                            "site": site(), "items": items() }),
                ),
                Event::SaleRecorded(SaleRecorded {
                    order_id: id(B),
                    number: "O-000007".into(),
                    client_id: id(C),
                    total: dec("499.74"),
                    delivered_at: Some("2026-11-30T14:03:07.120001Z".parse().unwrap()),
                    site: Some(typed_site),
                    items: typed_items(),
                }),
            ),
            (
                wire(
                    "stock_received",
                    "stock",
                    C,
                    1,
                    json!({ "movement_id": A, "product_id": C, "quantity": "100.000", "supplier_id": B, "unit_cost": "21.90" }),
                ),
                Event::StockReceived(StockReceived {
                    movement_id: id(A),
                    product_id: id(C),
                    quantity: dec("100.000"),
                    supplier_id: Some(id(B)),
                    unit_cost: Some(dec("21.90")),
                }),
            ),
            (
                wire("stock_adjusted", "stock", C, 1, json!({ "movement_id": A, "product_id": C, "quantity": "-3.000", "reason": "broken bags" })),
                Event::StockAdjusted(StockAdjusted { movement_id: id(A), product_id: id(C), quantity: dec("-3.000"), reason: "broken bags".into() }),
            ),
            (
                wire(
                    "supplier_price_changed",
                    "supplier",
                    B,
                    1,
                    json!({ "supplier_id": B, "product_id": C, "old_price": null, "new_price": "25.00", "valid_from": "2026-12-01" }),
                ),
                Event::SupplierPriceChanged(SupplierPriceChanged {
                    supplier_id: id(B),
                    product_id: id(C),
                    old_price: None,
                    new_price: dec("25.00"),
                    valid_from: NaiveDate::from_ymd_opt(2026, 12, 1).unwrap(),
                }),
            ),
            (
                wire("product_price_changed", "product", C, 1, json!({ "product_id": C, "old_price": "32.90", "new_price": "34.50" })),
                Event::ProductPriceChanged(ProductPriceChanged { product_id: id(C), old_price: dec("32.90"), new_price: dec("34.50") }),
            ),
            (
                wire("product_image_uploaded", "product", C, 1, json!({ "product_id": C, "original_key": format!("tenants/{TENANT}/products/{C}/original") })),
                Event::ProductImageUploaded(ProductImageUploaded { product_id: id(C), original_key: format!("tenants/{TENANT}/products/{C}/original") }),
            ),
            (
                wire("logo_uploaded", "tenant", TENANT, 1, json!({ "original_key": format!("tenants/{TENANT}/branding/logo-original") })),
                Event::LogoUploaded(LogoUploaded { original_key: format!("tenants/{TENANT}/branding/logo-original") }),
            ),
        ]
    }

    #[test]
    fn todays_json_decodes_into_each_variant_and_round_trips() {
        let cases = cases();
        let mut seen: Vec<&str> = cases.iter().map(|(e, _)| e.event_type.as_str()).collect();
        seen.sort_unstable();
        let mut all = Event::TYPES.to_vec();
        all.sort_unstable();
        assert_eq!(seen, all, "one case per event type");
        for (envelope, expected) in &cases {
            let event = known(envelope);
            assert_eq!(&event, expected, "{}", envelope.event_type);
            assert_eq!(event.payload(), envelope.payload, "{} re-encodes to the same JSON", envelope.event_type);
            assert_eq!(event.event_type(), envelope.event_type);
            assert_eq!(event.aggregate_type(), envelope.aggregate_type, "{}", envelope.event_type);
            assert_eq!(event.version(), 1);
            let written = EventEnvelope::from_event(id(TENANT), &event);
            assert_eq!(
                (&written.tenant_id, &written.aggregate_type, &written.aggregate_id, &written.event_type, written.version, &written.payload),
                (&envelope.tenant_id, &envelope.aggregate_type, &envelope.aggregate_id, &envelope.event_type, envelope.version, &envelope.payload),
                "{}: the envelope the typed event writes is today's",
                envelope.event_type
            );
            // And through the stream's string form, as the relay carries it.
            let again: EventEnvelope = serde_json::from_str(&serde_json::to_string(&written).unwrap()).unwrap();
            assert_eq!(known(&again), event);
        }
    }

    #[test]
    fn decimals_stay_strings_on_the_wire() {
        let e = Event::ProductPriceChanged(ProductPriceChanged { product_id: id(C), old_price: dec("1.50"), new_price: dec("2") });
        assert_eq!(e.payload()["old_price"], json!("1.50"));
        assert_eq!(e.payload()["new_price"], json!("2"));
    }

    #[test]
    fn absent_optional_fields_read_as_none() {
        let e = known(&wire("stock_received", "stock", C, 1, json!({ "movement_id": A, "product_id": C, "quantity": "1" })));
        assert_eq!(e, Event::StockReceived(StockReceived { movement_id: id(A), product_id: id(C), quantity: dec("1"), supplier_id: None, unit_cost: None }));
    }

    #[test]
    fn unknown_types_and_newer_versions_are_skipped() {
        let unknown = wire("invoice_teleported", "invoice", A, 1, json!({ "anything": true }));
        assert_eq!(Event::parse(&unknown).unwrap(), Parsed::Skipped { reason: SkipReason::UnknownType("invoice_teleported".into()) });
        // A newer version is skipped even when its payload would not decode as today's.
        let newer = wire("stock_received", "stock", C, 2, json!({ "product_id": C, "quantity": 5 }));
        assert_eq!(
            Event::parse(&newer).unwrap(),
            Parsed::Skipped { reason: SkipReason::NewerVersion { event_type: "stock_received", version: 2, supported: 1 } }
        );
    }

    #[test]
    fn a_malformed_payload_of_a_known_type_is_an_error() {
        for payload in [json!({ "product_id": C, "quantity": 5 }), json!({ "quantity": "5" }), json!("stock"), json!(null)] {
            let bad = wire("stock_received", "stock", C, 1, payload.clone());
            let err = Event::parse(&bad).expect_err(&payload.to_string());
            assert!(err.to_string().starts_with("stock_received payload: "), "{err}");
        }
    }
}
