//! Which upstream errors are worth another attempt, and which count against
//! the upstream's health.

use tonic::Code;

/// How an upstream error is treated.
///
/// An error that is not a failure (the upstream answered, just "no") also
/// proves the upstream healthy: the breaker counts it as a success.
pub trait Retryable {
    /// A transient failure that another attempt may not meet.
    fn is_retryable(&self) -> bool;

    /// Counts as an upstream failure for the circuit breaker.
    fn is_failure(&self) -> bool {
        self.is_retryable()
    }

    /// The attempt's own client gave up — as it should when handed the
    /// budget (tonic enforces the `grpc-timeout` it sends; reqwest its
    /// `timeout`). Such an error arriving once the budget is spent is
    /// reported as [`crate::CallError::Timeout`], whichever timer fired first.
    fn is_timeout(&self) -> bool {
        false
    }
}

/// gRPC codes by their contract: `UNAVAILABLE`, `RESOURCE_EXHAUSTED` and
/// `ABORTED` are transient and retried. `DEADLINE_EXCEEDED` and `CANCELLED`
/// (tonic's own client deadline) are failures but not retried — a slow
/// upstream gets no second helping of load — and so are `INTERNAL`,
/// `UNKNOWN` and `DATA_LOSS`. The rest (`INVALID_ARGUMENT`, `NOT_FOUND`,
/// `PERMISSION_DENIED`, …) are answers, not failures. tonic reports its own
/// client deadline as `CANCELLED` ("Timeout expired"), the server as
/// `DEADLINE_EXCEEDED`: both are timeouts.
impl Retryable for tonic::Status {
    fn is_retryable(&self) -> bool {
        matches!(self.code(), Code::Unavailable | Code::ResourceExhausted | Code::Aborted)
    }

    fn is_failure(&self) -> bool {
        self.is_retryable()
            || matches!(
                self.code(),
                Code::DeadlineExceeded | Code::Cancelled | Code::Internal | Code::Unknown | Code::DataLoss
            )
    }

    fn is_timeout(&self) -> bool {
        matches!(self.code(), Code::DeadlineExceeded | Code::Cancelled)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn grpc_codes() {
        let s = |code| tonic::Status::new(code, "x");
        for code in [Code::Unavailable, Code::ResourceExhausted, Code::Aborted] {
            assert!(s(code).is_retryable() && s(code).is_failure(), "{code:?}");
        }
        for code in [Code::DeadlineExceeded, Code::Cancelled, Code::Internal, Code::Unknown, Code::DataLoss] {
            assert!(!s(code).is_retryable() && s(code).is_failure(), "{code:?}");
        }
        assert!(s(Code::DeadlineExceeded).is_timeout() && s(Code::Cancelled).is_timeout());
        assert!(!s(Code::Unavailable).is_timeout() && !s(Code::Internal).is_timeout());
        for code in [
            Code::InvalidArgument,
            Code::NotFound,
            Code::AlreadyExists,
            Code::PermissionDenied,
            Code::Unauthenticated,
            Code::FailedPrecondition,
            Code::OutOfRange,
            Code::Unimplemented,
        ] {
            assert!(!s(code).is_retryable() && !s(code).is_failure(), "{code:?}");
        }
    }
}
