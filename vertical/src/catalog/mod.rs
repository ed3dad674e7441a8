//! What the dealer sells and buys: products, suppliers with their prices, and stock movements.

pub mod images;
pub mod products;
pub mod stock;
pub mod suppliers;
