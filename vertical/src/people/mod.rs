//! The dealer's people: clients (people or companies), their job sites, and the tenant's own
//! staff (users).

pub mod clients;
pub mod sites;
pub mod users;
