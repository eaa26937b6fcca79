//! The one error type of the server and the Shiku result-code table
//! (spec/reference-server.md 1.2). The HTTP layer renders it as the Shiku envelope.

use crate::store::StoreError;

/// Shiku result codes clients react to, with their zh texts (reference `message.json`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[repr(i64)]
pub enum Code {
    Success = 1,
    Failure = 0,
    ParamsAuthFail = 1010101,
    ParamsLack = 1010102,
    InternalError = 1020101,
    LinkExpired = 1020102,
    TokenMissing = 1030101,
    TokenInvalid = 1030102,
    AuthFailed = 1030103,
    AccountNotExist = 1040101,
    AccountOrPasswordIncorrect = 1040102,
    OldPasswordIsWrong = 1040103,
    VerifyCodeErrOrExpired = 1040104,
    SendMsgFail = 1040105,
    /// The reference's "wait {0} seconds, then retry" (ManySedMsg); also password checks that
    /// are throttled or find the server busy.
    TooFrequent = 1040106,
    PhoneRegistered = 1040107,
    NullImgCode = 1040215,
    ImgCodeError = 1040216,
    NotPermissionDelete = 1040303,
    AccountIsLocked = 1040304,
    /// The hardened dialect's `secret` is wrong, stale or replayed: its client goes back to the
    /// login page.
    SecretInvalid = 10110,
    /// `/friends/attention/add`: the target refuses follows (the reference's string "1100801").
    AttentionRefused = 1100801,
}

impl Code {
    /// The code as clients see it.
    pub fn value(self) -> i64 {
        self as i64
    }

    /// The reference's zh text for this code.
    pub fn text(self) -> &'static str {
        match self {
            Code::Success => "接口调用成功",
            Code::Failure => "接口调用失败",
            Code::ParamsAuthFail => "请求参数验证失败，缺少必填参数或参数错误",
            Code::ParamsLack => "缺少请求参数",
            Code::InternalError => "接口内部异常",
            Code::LinkExpired => "链接已失效",
            Code::TokenMissing => "缺少访问令牌",
            Code::TokenInvalid => "访问令牌过期或无效",
            Code::AuthFailed => "权限验证失败",
            Code::AccountNotExist => "帐号不存在",
            Code::AccountOrPasswordIncorrect => "帐号或密码错误",
            Code::OldPasswordIsWrong => "原密码错误",
            Code::VerifyCodeErrOrExpired => "短信验证码错误或已过期",
            Code::SendMsgFail => "发送验证码失败,请重发!",
            Code::TooFrequent => "请求过于频繁，请稍后再试",
            Code::PhoneRegistered => "手机号码已注册!",
            Code::NullImgCode => "请输入图形验证码",
            Code::ImgCodeError => "图形验证码错误",
            Code::NotPermissionDelete => "你没有权限删除!",
            Code::AccountIsLocked => "账号被锁定",
            Code::SecretInvalid => "接口签名验证失败，请重新登录",
            Code::AttentionRefused => "关注失败，目标用户拒绝关注",
        }
    }
}

/// Every failure a request can end in. Rendered as `{resultCode, resultMsg, currentTime}`.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    /// A required parameter is missing or malformed (1010101, naming it).
    #[error("{}: {name} {reason}", Code::ParamsAuthFail.text())]
    Param { name: String, reason: String },
    /// A coded failure with the code's standard text.
    #[error("{}", .0.text())]
    Code(Code),
    /// A coded failure with a specific text.
    #[error("{msg}")]
    CodeMsg { code: Code, msg: String },
    /// A business refusal: resultCode 0 with a Chinese message, as most reference errors are.
    #[error("{0}")]
    Failure(String),
    /// The request body is larger than allowed (HTTP 413).
    #[error("{}: 请求体超过 {limit} 字节", Code::ParamsAuthFail.text())]
    TooLarge { limit: usize },
    /// Every password worker is taken and the queue is full or too slow: retry shortly.
    #[error("服务器繁忙，请稍后重试 (busy, retry)")]
    Busy,
    /// Too many failed password checks for this account or address: retry after the delay.
    #[error("登录失败次数过多，请 {retry_secs} 秒后再试 (too many failed attempts, retry in {retry_secs} s)")]
    TooManyAttempts { retry_secs: u64 },
    /// Something broke on our side (1020101). The detail is logged, not sent.
    #[error("{}", Code::InternalError.text())]
    Internal(String),
}

impl Error {
    /// A missing required parameter.
    pub fn missing(name: &str) -> Error {
        Error::Param {
            name: name.to_string(),
            reason: "缺失 (missing)".into(),
        }
    }

    /// A parameter that is present but not acceptable.
    pub fn invalid(name: &str, reason: impl Into<String>) -> Error {
        Error::Param {
            name: name.to_string(),
            reason: reason.into(),
        }
    }

    /// A resultCode-0 refusal.
    pub fn failure(msg: impl Into<String>) -> Error {
        Error::Failure(msg.into())
    }

    /// The resultCode this error renders with.
    pub fn code(&self) -> i64 {
        match self {
            Error::Param { .. } | Error::TooLarge { .. } => Code::ParamsAuthFail.value(),
            Error::Code(c) | Error::CodeMsg { code: c, .. } => c.value(),
            Error::Failure(_) => Code::Failure.value(),
            Error::Busy | Error::TooManyAttempts { .. } => Code::TooFrequent.value(),
            Error::Internal(_) => Code::InternalError.value(),
        }
    }
}

impl From<StoreError> for Error {
    fn from(e: StoreError) -> Error {
        Error::Internal(e.to_string())
    }
}

/// Result of every domain operation.
pub type Result<T> = std::result::Result<T, Error>;
