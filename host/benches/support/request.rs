//! The request every bench sends: a GET to the gateway from a loopback client, handed over as
//! the HTTP/1.1 server hands over a parsed request.

use ferrogate::exchange::{ClientInfo, Exchange, TransactionId};

pub fn get(path: &str, headers: &[(&str, &str)]) -> Exchange {
    let mut request = http::Request::builder()
        .method("GET")
        .uri(format!("http://gateway.example.com{path}"));
    for (name, value) in headers {
        request = request.header(*name, *value);
    }
    let request = request
        .body(ferrogate::http::empty_body())
        .expect("request");
    let client = ClientInfo::new(
        "127.0.0.1:40000".parse().expect("address"),
        "127.0.0.1:8080".parse().expect("address"),
        false,
    );
    Exchange::new(request, client.into(), TransactionId::named("bench"))
}
