//! (stub until the internal-services branch lands)
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Builtin {
    Echo,
    Discard,
    Chargen,
    Daytime,
    Time,
}
impl Builtin {
    pub fn from_name(name: &str) -> Option<Builtin> {
        Some(match name.to_ascii_lowercase().as_str() {
            "echo" => Builtin::Echo,
            "discard" => Builtin::Discard,
            "chargen" => Builtin::Chargen,
            "daytime" => Builtin::Daytime,
            "time" => Builtin::Time,
            _ => return None,
        })
    }
    pub fn name(self) -> &'static str {
        match self {
            Builtin::Echo => "echo",
            Builtin::Discard => "discard",
            Builtin::Chargen => "chargen",
            Builtin::Daytime => "daytime",
            Builtin::Time => "time",
        }
    }
}
