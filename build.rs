//! Generates the Rust types of Shiku's binary WebSocket protocol from `proto/shiku.proto`.
//! `protox` parses the file in Rust, so building needs no `protoc` binary.

fn main() -> Result<(), Box<dyn std::error::Error>> {
    println!("cargo:rerun-if-changed=proto/shiku.proto");
    let descriptors = protox::compile(["proto/shiku.proto"], ["proto"])?;
    prost_build::Config::new().compile_fds(descriptors)?;
    Ok(())
}
