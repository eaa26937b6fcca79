mod common;

#[tokio::test]
async fn register_then_get_self() {
    let app = common::spawn().await;
    let (uid, token) = app.register("13900000001", "pw1", "测试").await;
    let v = app
        .post("/user/get", &[("access_token", &token), ("flag", "rw")])
        .await;
    assert_eq!(v["resultCode"], 1);
    assert_eq!(v["data"]["userId"], uid);
    assert_eq!(v["data"]["nickname"], "测试");
    assert!(v["data"].get("password").is_none());
}
