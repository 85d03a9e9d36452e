//! The connector of a failover run (`failover = true`): one connector per
//! target, in the workload's order. New sessions open on the first; a
//! session that fails over asks for the next by index (`connect_to`).

use super::{Connected, Connector, TargetError};
use futures_util::future::BoxFuture;

pub struct Targets {
    /// One per target, first one first; never empty.
    pub each: Vec<Box<dyn Connector>>,
}

#[cfg(test)]
impl Targets {
    /// Failover over `each`, first one first: the engine's tests script
    /// each target on its own and run them through this very connector.
    pub(crate) fn new(each: Vec<Box<dyn Connector>>) -> Targets {
        Targets { each }
    }
}

impl Connector for Targets {
    fn connect(&self, session: u32) -> BoxFuture<'_, Result<Connected, TargetError>> {
        self.connect_to(0, session)
    }

    /// Target `target`, wrapping round the list.
    fn connect_to(
        &self,
        target: usize,
        session: u32,
    ) -> BoxFuture<'_, Result<Connected, TargetError>> {
        match self.each.get(target % self.each.len().max(1)) {
            Some(c) => c.connect(session),
            None => Box::pin(async move {
                Err(TargetError::Handshake {
                    session,
                    reason: "no failover target to connect to".into(),
                })
            }),
        }
    }
}
