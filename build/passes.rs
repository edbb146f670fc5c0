//! The rewrites of progenitor's output that no setting can do (ARCHITECTURE.md, "The passes that
//! stay"). Each pass is a function whose comment shows what progenitor emits; one walk over the
//! syntax hands each pass the items it rewrites and counts what it rewrote. A pass that finds less
//! than it expects fails the build naming itself: an upgrade that changes the output stops here.

use std::collections::HashMap;

use proc_macro2::{Group, TokenStream, TokenTree};
use quote::{quote, ToTokens};
use syn::visit_mut::{self, VisitMut};
use syn::{
    parse_quote as code, Attribute, Expr, Field, ImplItem, ImplItemFn, Item, ItemStruct, Path, Type,
};

use crate::spec::Operation;

pub fn run(file: &mut syn::File, operations: &[Operation]) -> Result<(), String> {
    let mut walk = Walk {
        operations,
        ..Default::default()
    };
    // The operations' builders (`mod builder`) first: the examples on `Client` use their setters.
    let (builders, others): (Vec<_>, Vec<_>) = file
        .items
        .iter_mut()
        .partition(|item| matches!(item, Item::Mod(m) if m.ident == "builder"));
    builders
        .into_iter()
        .chain(others)
        .for_each(|item| walk.visit_item_mut(item));

    let found = |pass| walk.found.get(pass).copied().unwrap_or(0);
    let (ops, path_params) = (operations.len(), operations.iter().map(|op| op.path_params));
    let expected = [
        ("null_arrays", None),
        ("kept_unknown_fields", Some(found("extra"))),
        ("documented_builders", None),
        ("path_segments", Some(path_params.sum())),
        ("converting_send", Some(ops)),
        ("compiled_example", Some(ops)),
        ("hidden_constructors", Some(2)),
    ];
    for (pass, expected) in expected {
        if expected.map_or(found(pass) == 0, |expected| found(pass) != expected) {
            let expected = expected.map_or("some".into(), |n| n.to_string());
            return Err(format!(
                "progenitor's output changed: `{pass}` in build/passes.rs finds {} of what it \
                 rewrites, not {expected}",
                found(pass)
            ));
        }
    }
    Ok(())
}

#[derive(Default)]
struct Walk<'a> {
    operations: &'a [Operation],
    /// Where the walk is: `types`, `types::builder`, `builder` (the operations'), `` (the root).
    module: String,
    /// The setters of each operation's builder (by its name), and the type each takes.
    setters: HashMap<String, Vec<(String, Type)>>,
    /// How many items each pass rewrote.
    found: HashMap<&'static str, usize>,
}

impl Walk<'_> {
    fn count(&mut self, pass: &'static str, found: impl Into<usize>) {
        *self.found.entry(pass).or_default() += found.into();
    }

    /// typify's struct builders (`types::builder::X`, made by `X::builder()`) have no docs, so
    /// rustdoc shows `X::builder() -> X` and `From<X> for X`, and progenitor's `builder` module
    /// (the operations' requests) shares their name: each says what it is.
    fn documented_builders(&mut self, attrs: &mut Vec<Attribute>, lines: &[&str]) {
        attrs.extend(lines.iter().map(|line| doc(line)));
        self.count("documented_builders", true);
    }
}

impl VisitMut for Walk<'_> {
    fn visit_item_mod_mut(&mut self, module: &mut syn::ItemMod) {
        let name = match self.module.as_str() {
            "" => module.ident.to_string(),
            outer => format!("{outer}::{}", module.ident),
        };
        let outer = std::mem::replace(&mut self.module, name);
        match (self.module.as_str(), &mut module.content) {
            // The open enums (build/settings.rs) join typify's types.
            ("types", Some((_, items))) => {
                items.push(code!(include!(concat!(env!("OUT_DIR"), "/enums.rs"));))
            }
            ("builder", _) => {
                self.documented_builders(&mut module.attrs, &["", OPERATION_BUILDERS])
            }
            _ => {}
        }
        visit_mut::visit_item_mod_mut(self, module);
        self.module = outer;
    }

    fn visit_item_struct_mut(&mut self, item: &mut ItemStruct) {
        match self.module.as_str() {
            "types" => {
                for field in &mut item.fields {
                    self.count("null_arrays", null_arrays(field));
                    self.count("extra", kept_unknown_fields(field));
                }
            }
            "types::builder" => {
                let text = TYPE_BUILDER.replace("{0}", &item.ident.to_string());
                self.documented_builders(&mut item.attrs, &[&text]);
            }
            _ => {}
        }
    }

    fn visit_item_impl_mut(&mut self, item: &mut syn::ItemImpl) {
        let trait_ = item.trait_.as_ref().and_then(|(_, path, _)| last(path));
        let ty = path(&item.self_ty).and_then(last).unwrap_or_default();
        let fns = item.items.iter_mut().filter_map(|item| match item {
            ImplItem::Fn(f) => Some(f),
            _ => None,
        });
        match (self.module.as_str(), trait_.as_deref()) {
            ("types", None) => {
                for f in fns.filter(|f| f.sig.ident == "builder") {
                    self.documented_builders(&mut f.attrs, &[BUILDER_METHOD]);
                }
            }
            ("types::builder", Some("TryFrom")) => {
                self.documented_builders(&mut item.attrs, &[TRY_FROM])
            }
            ("types::builder", Some("From")) => self.documented_builders(&mut item.attrs, &[FROM]),
            ("types::builder", Some("Default")) => {
                fns.for_each(|f| self.count("kept_unknown_fields", empty_extra(f)))
            }
            ("builder", None) => {
                let op = self.operations.iter().find(|op| op.builder == ty);
                for f in fns {
                    let setter = setter_type(f).map(|t| (f.sig.ident.to_string(), t));
                    self.setters.entry(ty.clone()).or_default().extend(setter);
                    let sends = op.is_some_and(|op| converting_send(f, &op.method));
                    self.count("converting_send", sends);
                }
            }
            ("", None) if ty == "Client" => {
                for f in fns {
                    self.count("hidden_constructors", hidden_constructor(f));
                    let op = self.operations.iter().find(|op| f.sig.ident == op.method);
                    let setters = op.and_then(|op| Some((op, self.setters.get(&op.builder)?)));
                    let example = setters.is_some_and(|(op, s)| compiled_example(f, op, s));
                    self.count("compiled_example", example);
                }
            }
            _ => {}
        }
        visit_mut::visit_item_impl_mut(self, item);
    }

    fn visit_macro_mut(&mut self, mac: &mut syn::Macro) {
        let mut found = 0;
        mac.tokens = path_segments(std::mem::take(&mut mac.tokens), &mut found);
        self.count("path_segments", found);
    }
}

fn doc(text: &str) -> Attribute {
    code!(#[doc = #text])
}

fn path(ty: &Type) -> Option<&Path> {
    match ty {
        Type::Path(ty) => Some(&ty.path),
        _ => None,
    }
}

fn last(path: &Path) -> Option<String> {
    path.segments.last().map(|s| s.ident.to_string())
}

/// The first type argument of a path: `T` of `Vec<T>`.
fn arg(path: &Path) -> Option<Type> {
    match &path.segments.last()?.arguments {
        syn::PathArguments::AngleBracketed(args) => args.args.iter().find_map(|arg| match arg {
            syn::GenericArgument::Type(ty) => Some(ty.clone()),
            _ => None,
        }),
        _ => None,
    }
}

/// Whether a `#[serde(…)]` of the attributes names `key` (`#[serde(default, skip_…= "…")]`).
fn serde_has(attrs: &[Attribute], key: &str) -> bool {
    let mut found = false;
    for attr in attrs.iter().filter(|a| a.path().is_ident("serde")) {
        let _ = attr.parse_nested_meta(|meta| {
            found |= meta.path.is_ident(key);
            let _ = meta.value().and_then(|value| value.parse::<Expr>());
            Ok(())
        });
    }
    found
}

/// typify writes an array field as `#[serde(default, skip_serializing_if = "…")] pub items:
/// ::std::vec::Vec<T>`; serde's `default` covers only a missing field, so each also reads
/// `null` as empty (`crate::wire::null_as_empty`).
fn null_arrays(field: &mut Field) -> bool {
    let vec = path(&field.ty).and_then(last).is_some_and(|i| i == "Vec");
    let found = vec && serde_has(&field.attrs, "default");
    if found {
        let null = code!(#[serde(deserialize_with = "crate::wire::null_as_empty")]);
        field.attrs.push(null);
    }
    found
}

/// typify writes the unknown fields an `additionalProperties: {}` schema keeps as
/// `#[serde(flatten)] pub extra: ::serde_json::Map<String, Value>`, undocumented, and the
/// `Default` of its builder starts with `extra: Err("no value supplied for extra".to_string())`,
/// so a builder left without one fails. The field says what it holds …
fn kept_unknown_fields(field: &mut Field) -> bool {
    let extra = field.ident.as_ref().is_some_and(|i| i == "extra");
    let found = extra && serde_has(&field.attrs, "flatten");
    if found {
        field.attrs.push(doc(UNKNOWN_FIELDS));
    }
    found
}

/// … and the builder starts with an empty map (counted with `kept_unknown_fields`).
fn empty_extra(default: &mut ImplItemFn) -> bool {
    let Some(syn::Stmt::Expr(Expr::Struct(value), None)) = default.block.stmts.last_mut() else {
        return false;
    };
    for field in &mut value.fields {
        let extra = matches!(&field.member, syn::Member::Named(i) if i == "extra");
        let err = |f: &Expr| matches!(f, Expr::Path(p) if p.path.is_ident("Err"));
        if extra && matches!(&field.expr, Expr::Call(call) if err(&call.func)) {
            field.expr = code!(Ok(Default::default()));
            return true;
        }
    }
    false
}

/// progenitor builds a URL as `format!("{}/inbox/v2/conversations/{}", client.baseurl,
/// encode_path(&conversation_id.to_string()),)`, and its `encode_path` leaves `\` and dots
/// alone, which a URL parser reads as separators. Each becomes `crate::wire::path_segment(…)?`,
/// which escapes all but unreserved characters and refuses `""`, `.` and `..`.
fn path_segments(tokens: TokenStream, found: &mut usize) -> TokenStream {
    let (mut tokens, mut out) = (tokens.into_iter().peekable(), TokenStream::new());
    while let Some(token) = tokens.next() {
        out.extend(match (token, tokens.peek()) {
            (TokenTree::Ident(f), Some(TokenTree::Group(args))) if f == "encode_path" => {
                let args = Group::new(args.delimiter(), path_segments(args.stream(), found));
                tokens.next();
                *found += 1;
                quote!(crate::wire::path_segment #args ?)
            }
            (TokenTree::Group(group), _) => {
                let inner = path_segments(group.stream(), found);
                Group::new(group.delimiter(), inner).into_token_stream()
            }
            (token, _) => token.into_token_stream(),
        });
    }
    out
}

/// The type a request builder's setter takes: `T` of `pub fn visibility<V>(mut self, value: V)
/// -> Self where V: std::convert::TryInto<T>`.
fn setter_type(f: &ImplItemFn) -> Option<Type> {
    match f.sig.generics.where_clause.as_ref()?.predicates.first()? {
        syn::WherePredicate::Type(syn::PredicateType { bounds, .. }) => match bounds.first()? {
            syn::TypeParamBound::Trait(b) if last(&b.path)? == "TryInto" => arg(&b.path),
            _ => None,
        },
        _ => None,
    }
}

/// progenitor writes `pub async fn send(self) -> Result<ResponseValue<T>, Error<E>> { … }` on
/// each operation's builder; it fails with the crate's `Error` instead
/// (`crate::client::call::convert` of the same body).
fn converting_send(f: &mut ImplItemFn, operation: &str) -> bool {
    let send = f.sig.ident == "send" && f.sig.asyncness.is_some();
    let ok = match &f.sig.output {
        syn::ReturnType::Type(_, ty) if send => path(ty).and_then(arg),
        _ => None,
    };
    let Some(ok) = ok else { return false };
    let body = &f.block;
    f.block = code!({ crate::client::call::convert(#operation, async move #body).await });
    f.sig.output = code!(-> Result<#ok, crate::Error>);
    f.attrs.extend([doc(""), doc(SEND)]);
    true
}

/// progenitor ends the docs of each operation's method on `Client` with an example marked
/// ```` ```ignore ````, as it cannot name the crate. It becomes a compiled `no_run` doc test that
/// calls every setter with a parameter of the type it takes and ends `send()` in `?`.
fn compiled_example(f: &mut ImplItemFn, op: &Operation, setters: &[(String, Type)]) -> bool {
    let mut params = vec!["client: &wix_inbox::Client".to_owned()];
    let mut calls = String::new();
    for (setter, ty) in setters {
        // `types::X` and `crate::X` (also inside `Vec<crate::types::X>`) as a user writes them.
        let ty = ty.to_token_stream().to_string().replace(' ', "");
        let ty = ty.replace("crate::", "wix_inbox::");
        let ty = ty
            .strip_prefix("types::")
            .map_or(ty.clone(), |t| format!("wix_inbox::types::{t}"));
        params.push(format!("{setter}: {ty}"));
        calls += &format!("\n    .{setter}({setter})");
    }
    let example = format!(
        "```no_run\n# async fn example({}) -> Result<(), wix_inbox::Error> {{\n\
         let response = client.{}(){calls}\n    .send()\n    .await?;\n\
         # let _ = response;\n# Ok(())\n# }}\n```",
        params.join(", "),
        op.method,
    );
    for attr in &mut f.attrs {
        let syn::Meta::NameValue(syn::MetaNameValue {
            value: Expr::Lit(lit),
            ..
        }) = &mut attr.meta
        else {
            continue;
        };
        let syn::Lit::Str(text) = &mut lit.lit else {
            continue;
        };
        if let Some((before, _)) = text.value().split_once("```ignore") {
            *text = syn::LitStr::new(&format!("{before}{example}"), text.span());
            return true;
        }
    }
    false
}

/// progenitor's `Client::new` and `Client::new_with_client` take the crate's client state,
/// which only `Client::builder()` makes: they are hidden.
fn hidden_constructor(f: &mut ImplItemFn) -> bool {
    let found = f.sig.ident == "new" || f.sig.ident == "new_with_client";
    if found {
        f.attrs.push(code!(#[doc(hidden)]));
    }
    found
}

// The docs of the builders (`documented_builders`), the unknown fields and `send()`.
const OPERATION_BUILDERS: &str = "Each is the request of one operation, made by its method on [`Client`](super::Client): set its parameters, then `send()` it. Not to be confused with [`types::builder`](super::types::builder), builders of the spec's types, nor with [`Client::builder()`](super::Client::builder), which configures the client.";
const TYPE_BUILDER: &str = "A builder of [`{0}`](super::{0}), from [`{0}::builder()`](super::{0}::builder) or from a value (`From`): each method sets a field, and `try_into()` makes the `{0}`, failing on a field given a wrong value or a required field left unset.";
const BUILDER_METHOD: &str = "A [builder](builder) of this type, to set its fields one by one.";
const TRY_FROM: &str = "Makes the value, checking the builder's fields.";
const FROM: &str = "A builder holding the fields of a value.";
const UNKNOWN_FIELDS: &str = "The fields Wix sent that the spec does not name (yet), kept as they came so that serializing the value gives them back.";
const SEND: &str = " A failure is a [`crate::Error`]: the status and Wix's request ID, message and code, and how many attempts were made.";
