//! Read-only views of the business: the dashboard, and what the engines computed from the event
//! stream (stock alerts, replenishment, complementary products, supplier prices, delivery routes).

pub mod dashboard;
pub mod findings;
