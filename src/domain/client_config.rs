//! `/config`: the system configuration clients read at start (reference `ConfigVO`).

use serde_json::{json, Map, Value};

use super::view::sorted;
use super::Ctx;

/// The `/config` data object. `ip` is the caller's address (`ipAddress`); `host` is the
/// request's `Host` header, from which the XMPP URLs are derived when not configured.
pub fn client_config(ctx: &Ctx, ip: &str, host: &str) -> Value {
    let c = &ctx.config.client;
    let mut m = Map::new();
    let mut put = |k: &str, v: Value| {
        m.insert(k.to_string(), v);
    };
    put("XMPPDomain", json!(c.xmpp_domain));
    put("XMPPHost", json!(c.xmpp_host));
    put("XMPPTimeout", json!(c.xmpp_timeout));
    // The jQuery client floods pings when this is missing (clients.md 2.6): always present.
    put("xmppPingTime", json!((c.xmpp_timeout as f64 / 2.5) as i32));
    put("apiUrl", json!(c.api_url));
    put("uploadUrl", json!(c.upload_url));
    put("downloadUrl", json!(c.download_url));
    put("downloadAvatarUrl", json!(c.download_avatar_url));
    put("liveUrl", json!(c.live_url));
    put("jitsiServer", json!(c.jitsi_server));
    put("apiKey", json!(ctx.config.auth.api_key));
    put("displayRedPacket", json!(0));
    put("fileValidTime", json!(c.file_valid_time));
    put("chatRecordTimeOut", json!(c.chat_record_time_out));
    put("isOpenSMSCode", json!(c.is_open_sms_code));
    put("isOpenRegister", json!(c.is_open_register));
    put("isOpenReceipt", json!(c.is_open_receipt));
    put("isOpenReadReceipt", json!(c.is_open_read_receipt));
    put("isOpenCluster", json!(0));
    put("showContactsUser", json!(c.show_contacts_user));
    put("helpUrl", json!(c.help_url));
    put("videoLen", json!(c.video_len));
    put("audioLen", json!(c.audio_len));
    put("shareUrl", json!(c.share_url));
    put("softUrl", json!(c.soft_url));
    put("distance", json!(20));
    put("address", json!(""));
    put("ipAddress", json!(ip));
    put("isOpenAPNSorJPUSH", json!(0));
    put("privacyPolicyPrefix", json!(c.privacy_policy_prefix));
    put("androidVersion", json!(c.android_version));
    put("iosVersion", json!(c.ios_version));
    put("androidAppUrl", json!(c.android_app_url));
    put("iosAppUrl", json!(c.ios_app_url));
    put("androidExplain", json!(""));
    put("iosExplain", json!(""));
    put("pcVersion", json!(0));
    put("pcAppUrl", json!(c.pc_app_url));
    put("pcExplain", json!(""));
    put("macVersion", json!(0));
    put("macAppUrl", json!(c.mac_app_url));
    put("macExplain", json!(""));
    put("androidDisable", json!(""));
    put("iosDisable", json!(""));
    put("pcDisable", json!(""));
    put("macDisable", json!(""));
    put("companyName", json!(c.company_name));
    put("copyright", json!(c.copyright));
    put("hideSearchByFriends", json!(1));
    put("appleId", json!(""));
    put("website", json!(c.website));
    put("regeditPhoneOrName", json!(c.regedit_phone_or_name));
    put("registerInviteCode", json!(c.register_invite_code));
    put("nicknameSearchUser", json!(c.nickname_search_user));
    put("isCommonFindFriends", json!(0));
    put("isCommonCreateGroup", json!(0));
    put("isOpenPositionService", json!(0));
    put("headBackgroundImg", json!(""));
    put("isOpenGoogleFCM", json!(0));
    put("isOpenRoomSearch", json!(c.is_open_room_search));
    put("isOpenOnlineStatus", json!(c.is_open_online_status));
    put("popularAPP", json!(""));
    put("xmppUrl", json!(xmpp_url(&c.xmpp_url, host)));
    put("boshUrl", json!(bosh_url(&c.bosh_url, host)));
    ctx.console.apply_overrides(&mut m);
    sorted(m)
}

/// The WebSocket URL clients use: the configured one, else the API host's `/xmpp-websocket`.
fn xmpp_url(configured: &str, host: &str) -> String {
    if configured.is_empty() {
        format!("ws://{host}/xmpp-websocket")
    } else {
        configured.to_string()
    }
}

/// The BOSH URL clients use: the configured one, else the API host's `/http-bind`.
fn bosh_url(configured: &str, host: &str) -> String {
    if configured.is_empty() {
        format!("http://{host}/http-bind")
    } else {
        configured.to_string()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn xmpp_urls_follow_the_host_unless_configured() {
        assert_eq!(xmpp_url("", "h:8092"), "ws://h:8092/xmpp-websocket");
        assert_eq!(bosh_url("", "h:8092"), "http://h:8092/http-bind");
        assert_eq!(xmpp_url("wss://x/ws", "h"), "wss://x/ws");
        assert_eq!(bosh_url("https://x/b", "h"), "https://x/b");
    }
}
