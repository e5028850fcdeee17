use super::*;

fn parse(json: &str) -> Result<MessageType, String> {
    serde_json::from_str(json).map_err(|e| e.to_string())
}

#[test]
fn message_types_are_read_ignoring_case() {
    assert_eq!(parse("\"REQUEST\""), Ok(MessageType::Request));
    assert_eq!(parse("\"request\""), Ok(MessageType::Request));
    assert_eq!(parse("\"Response\""), Ok(MessageType::Response));
}

#[test]
fn other_message_types_are_refused_naming_the_choices() {
    let error = parse("\"BOTH\"").expect_err("BOTH is not a message type");
    assert!(
        error.contains("\"BOTH\" is not a message type: use REQUEST or RESPONSE"),
        "{error}"
    );
    assert!(parse("1").is_err());
}

#[test]
fn each_message_type_uses_one_phase() {
    assert_eq!(MessageType::Request.phases(), Phases::REQUEST);
    assert_eq!(MessageType::Response.phases(), Phases::RESPONSE);
}
