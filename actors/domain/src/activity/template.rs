//! The built-in play templates. The rules and form fields each one accepts are described
//! as JSON Schema data in the server (`src/form_schema/schemas/*.json`);
//! the bounds below are the business checks' and the schemas' tests keep both equal.

use serde::{Deserialize, Serialize};

/// A play: how a marketing product is sold.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub enum TemplateCode {
    /// 秒杀: first come, first served, stock reserved at grab.
    FlashSale,
    /// 拼团: a leader starts a group, others join; it succeeds when `groupSize` members paid.
    GroupBuy,
    /// 拼班: a class that opens when `groupSize` students paid.
    CourseGroup,
}

/// Default time a group stays open for joining.
pub const GROUP_TTL_SECONDS_DEFAULT: u64 = 24 * 3600;
/// Smallest and largest group a template allows.
pub const GROUP_SIZE_MIN: u32 = 2;
pub const GROUP_SIZE_MAX: u32 = 100;

impl TemplateCode {
    pub const ALL: [TemplateCode; 3] = [
        TemplateCode::FlashSale,
        TemplateCode::GroupBuy,
        TemplateCode::CourseGroup,
    ];

    pub fn code(self) -> &'static str {
        match self {
            TemplateCode::FlashSale => "FLASH_SALE",
            TemplateCode::GroupBuy => "GROUP_BUY",
            TemplateCode::CourseGroup => "COURSE_GROUP",
        }
    }

    pub fn parse(code: &str) -> Option<TemplateCode> {
        TemplateCode::ALL
            .into_iter()
            .find(|template| template.code() == code)
    }

    pub fn name(self) -> &'static str {
        match self {
            TemplateCode::FlashSale => "限时秒杀",
            TemplateCode::GroupBuy => "拼团",
            TemplateCode::CourseGroup => "拼班",
        }
    }

    /// The default unit a product of this play is sold in.
    pub fn unit_name(self) -> &'static str {
        match self {
            TemplateCode::FlashSale => "件",
            TemplateCode::GroupBuy => "份",
            TemplateCode::CourseGroup => "课时",
        }
    }

    /// Whether orders of this play are placed through group instances.
    pub fn is_group(self) -> bool {
        !matches!(self, TemplateCode::FlashSale)
    }
}

/// The rules of an activity; which ones apply depends on its template.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Rules {
    pub group_size: Option<u32>,
    pub group_ttl_seconds: Option<u64>,
    pub new_user_only: bool,
    pub cities: Vec<String>,
    /// A user may not hold orders in two activities marked mutually exclusive whose time
    /// windows overlap.
    pub mutually_exclusive: bool,
}
