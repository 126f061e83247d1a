//! The platform's protobuf contracts (`proto/`), generated at build time.
//!
//! Each package is a module (`greeter::v1`, …) with prost messages and tonic
//! server traits and clients. [`descriptor_pool`] exposes the descriptors for
//! runtime reflection, which the Connect protocol's JSON encoding needs.

use std::sync::LazyLock;

use prost_reflect::DescriptorPool;

pub mod greeter {
    pub mod v1 {
        tonic::include_proto!("greeter.v1");
    }
}

pub mod caller {
    pub mod v1 {
        tonic::include_proto!("caller.v1");
    }
}

pub mod gateway {
    pub mod v1 {
        tonic::include_proto!("gateway.v1");
    }
}

/// Encoded `FileDescriptorSet` of every contract (and the well-known types it imports).
pub const FILE_DESCRIPTOR_SET: &[u8] = include_bytes!(concat!(env!("OUT_DIR"), "/descriptor.bin"));

/// Descriptors of every contract, decoded once.
pub fn descriptor_pool() -> &'static DescriptorPool {
    static POOL: LazyLock<DescriptorPool> = LazyLock::new(|| {
        DescriptorPool::decode(FILE_DESCRIPTOR_SET).expect("descriptor set built by build.rs is valid")
    });
    &POOL
}
