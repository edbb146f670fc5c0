//! The rewrites of progenitor's output that no setting can do. Each is one function that shows
//! what progenitor emits, finds it by its syntax, and fails naming itself when it does not: an
//! upgrade that changes the output stops the build here, before it changes the crate.

use proc_macro2::{Group, TokenStream, TokenTree};
use quote::{quote, ToTokens};
use syn::{parse_quote as code, Attribute, ImplItem, ImplItemFn, Item};

use crate::spec::Operation;

pub fn run(file: &mut syn::File, operations: &[Operation]) -> Result<(), String> {
    let types = module(&mut file.items, "types")?;
    // The open enums (build/settings.rs) join typify's types.
    types.push(code!(include!(concat!(env!("OUT_DIR"), "/enums.rs"));));
    null_arrays(types)?;
    kept_unknown_fields(types)?;
    documented_builders(types)?;
    path_segments(file, operations.iter().map(|op| op.path_params).sum())?;
    for op in operations {
        let setters = converting_send(module(&mut file.items, "builder")?, op)?;
        compiled_example(&mut file.items, op, &setters)?;
    }
    hidden_constructors(file)
}

fn missing(pass: &str, what: impl std::fmt::Display) -> String {
    format!("progenitor's output changed: `{pass}` in build/passes.rs finds no {what}")
}

fn found(pass: &str, what: &str, ok: bool) -> Result<(), String> {
    ok.then_some(()).ok_or_else(|| missing(pass, what))
}

fn doc(text: &str) -> Attribute {
    code!(#[doc = #text])
}

fn module<'a>(items: &'a mut [Item], name: &str) -> Result<&'a mut Vec<Item>, String> {
    let module = items.iter_mut().find_map(|item| match item {
        Item::Mod(m) if m.ident == name => m.content.as_mut().map(|c| &mut c.1),
        _ => None,
    });
    module.ok_or_else(|| missing("module", format!("`mod {name}`")))
}

/// The methods of the inherent `impl`s of the type `name` (`impl<'a> GetConversation<'a>`).
fn methods<'a>(items: &'a mut [Item], name: &'a str) -> impl Iterator<Item = &'a mut ImplItemFn> {
    let impls = items.iter_mut().filter_map(move |item| match item {
        Item::Impl(i) if i.trait_.is_none() && ident(&i.self_ty).is_some_and(|i| i == name) => {
            Some(&mut i.items)
        }
        _ => None,
    });
    impls.flatten().filter_map(|item| match item {
        ImplItem::Fn(f) => Some(f),
        _ => None,
    })
}

/// The name of a path type or path, `Vec` for `::std::vec::Vec<T>`, and a path's arguments, `T`.
fn ident(ty: &syn::Type) -> Option<&syn::Ident> {
    path_ident(match ty {
        syn::Type::Path(p) => &p.path,
        _ => return None,
    })
}

fn path_ident(path: &syn::Path) -> Option<&syn::Ident> {
    path.segments.last().map(|s| &s.ident)
}

fn args(path: &syn::Path) -> impl Iterator<Item = &syn::Type> {
    let args = match path.segments.last().map(|s| &s.arguments) {
        Some(syn::PathArguments::AngleBracketed(a)) => Some(&a.args),
        _ => None,
    };
    args.into_iter().flatten().filter_map(|arg| match arg {
        syn::GenericArgument::Type(ty) => Some(ty),
        _ => None,
    })
}

/// typify writes an array field as `#[serde(default, skip_serializing_if = "…")] pub items:
/// ::std::vec::Vec<T>`; serde's `default` covers only a missing field, so each also reads
/// `null` as empty (`crate::wire::null_as_empty`).
fn null_arrays(types: &mut [Item]) -> Result<(), String> {
    let mut count = 0;
    for item in types {
        let Item::Struct(s) = item else { continue };
        for field in s
            .fields
            .iter_mut()
            .filter(|f| ident(&f.ty).is_some_and(|i| i == "Vec"))
        {
            let serde = field.attrs.iter().filter(|a| a.path().is_ident("serde"));
            let mut default = false;
            for attr in serde {
                let _ = attr.parse_nested_meta(|meta| {
                    default |= meta.path.is_ident("default");
                    let _ = meta.value().and_then(|v| v.parse::<syn::Expr>());
                    Ok(())
                });
            }
            if default {
                field
                    .attrs
                    .push(code!(#[serde(deserialize_with = "crate::wire::null_as_empty")]));
                count += 1;
            }
        }
    }
    found("null_arrays", "defaulted `Vec` field", count > 0)
}

/// typify writes the unknown fields an `additionalProperties: {}` schema keeps as
/// `#[serde(flatten)] pub extra: ::serde_json::Map<String, Value>`, undocumented, and its builder
/// starts with `extra: Err("no value supplied for extra".to_string())`, so a builder left without
/// one fails. The field says what it holds, and the builder starts with an empty map.
fn kept_unknown_fields(types: &mut [Item]) -> Result<(), String> {
    let mut structs = 0;
    for item in types.iter_mut() {
        let Item::Struct(s) = item else { continue };
        let extra = s.fields.iter_mut().find(|f| {
            f.ident.as_ref().is_some_and(|i| i == "extra")
                && f.attrs.iter().any(|a| {
                    a.path().is_ident("serde")
                        && a.to_token_stream().to_string().contains("flatten")
                })
        });
        if let Some(field) = extra {
            field.attrs.push(doc(
                "The fields Wix sent that the spec does not name (yet), kept as they came so that \
                 serializing the value gives them back.",
            ));
            structs += 1;
        }
    }
    let mut builders = 0;
    for item in module(types, "builder")? {
        let Item::Impl(block) = item else { continue };
        let default = block.trait_.as_ref().and_then(|t| path_ident(&t.1));
        if default.is_none_or(|t| t != "Default") {
            continue;
        }
        for item in &mut block.items {
            let ImplItem::Fn(f) = item else { continue };
            let Some(syn::Stmt::Expr(syn::Expr::Struct(value), None)) = f.block.stmts.last_mut()
            else {
                continue;
            };
            for field in &mut value.fields {
                if matches!(&field.member, syn::Member::Named(i) if i == "extra")
                    && matches!(&field.expr, syn::Expr::Call(c) if c.func.to_token_stream().to_string() == "Err")
                {
                    field.expr = code!(Ok(Default::default()));
                    builders += 1;
                }
            }
        }
    }
    let what = format!(
        "`extra: Err(…)` in the builder of each of the {structs} structs with a flattened `extra` \
         (found {builders})"
    );
    found("kept_unknown_fields", &what, builders == structs)
}

/// progenitor builds a URL as `format!("{}/inbox/v2/conversations/{}", client.baseurl,
/// encode_path(&conversation_id.to_string()),)`, and its `encode_path` leaves `\` and dots
/// alone, which a URL parser reads as separators. Each becomes `crate::wire::path_segment(…)?`,
/// which escapes all but unreserved characters and refuses `""`, `.` and `..`.
fn path_segments(file: &mut syn::File, expected: usize) -> Result<(), String> {
    struct Rewrite(usize);
    impl Rewrite {
        fn tokens(&mut self, tokens: TokenStream) -> TokenStream {
            let mut tokens = tokens.into_iter().peekable();
            let mut out = TokenStream::new();
            while let Some(token) = tokens.next() {
                out.extend(match (token, tokens.peek()) {
                    (TokenTree::Ident(f), Some(TokenTree::Group(args))) if f == "encode_path" => {
                        let args = Group::new(args.delimiter(), self.tokens(args.stream()));
                        tokens.next();
                        self.0 += 1;
                        quote!(crate::wire::path_segment #args ?)
                    }
                    (TokenTree::Group(g), _) => {
                        Group::new(g.delimiter(), self.tokens(g.stream())).into_token_stream()
                    }
                    (token, _) => token.into_token_stream(),
                });
            }
            out
        }
    }
    impl syn::visit_mut::VisitMut for Rewrite {
        fn visit_macro_mut(&mut self, mac: &mut syn::Macro) {
            mac.tokens = self.tokens(std::mem::take(&mut mac.tokens));
        }
    }
    let mut rewrite = Rewrite(0);
    syn::visit_mut::VisitMut::visit_file_mut(&mut rewrite, file);
    let what = format!("{expected} `encode_path` calls (found {})", rewrite.0);
    found("path_segments", &what, rewrite.0 == expected)
}

/// progenitor writes `pub async fn send(self) -> Result<ResponseValue<T>, Error<E>> { … }` on
/// each operation's builder; it fails with the crate's `Error` instead
/// (`crate::client::call::convert` of the same body). Returns the builder's setters and the types they take, from
/// `pub fn visibility<V>(mut self, value: V) -> Self where V: std::convert::TryInto<T>`.
fn converting_send(
    builders: &mut [Item],
    op: &Operation,
) -> Result<Vec<(String, syn::Type)>, String> {
    let mut setters = Vec::new();
    let mut sends = 0;
    for f in methods(builders, &op.builder) {
        let bound = f
            .sig
            .generics
            .where_clause
            .iter()
            .flat_map(|w| &w.predicates)
            .next();
        if let Some(syn::WherePredicate::Type(syn::PredicateType { bounds, .. })) = bound {
            if let Some(syn::TypeParamBound::Trait(b)) = bounds.first() {
                if path_ident(&b.path).is_some_and(|i| i == "TryInto") {
                    setters.extend(args(&b.path).map(|ty| (f.sig.ident.to_string(), ty.clone())));
                }
            }
        }
        let ok = match &f.sig.output {
            syn::ReturnType::Type(_, ty) => match &**ty {
                syn::Type::Path(result) => args(&result.path).next().cloned(),
                _ => None,
            },
            _ => None,
        };
        let (Some(ok), true) = (ok, f.sig.ident == "send" && f.sig.asyncness.is_some()) else {
            continue;
        };
        let (operation, body) = (&op.method, &f.block);
        f.block = code!({ crate::client::call::convert(#operation, async move #body).await });
        f.sig.output = code!(-> Result<#ok, crate::Error>);
        f.attrs.extend([doc(""), doc(" A failure is a [`crate::Error`]: the status and Wix's request ID, message and code, and how many attempts were made.")]);
        sends += 1;
    }
    let what = format!("`pub async fn send(self) -> Result<…>` on `{}`", op.builder);
    found("converting_send", &what, sends == 1).map(|()| setters)
}

/// progenitor ends the docs of each operation's method on `Client` with an example marked
/// ```` ```ignore ````, as it cannot name the crate. It becomes a compiled `no_run` doc test that
/// calls every setter with a parameter of the type it takes and ends `send()` in `?`.
fn compiled_example(
    items: &mut [Item],
    op: &Operation,
    setters: &[(String, syn::Type)],
) -> Result<(), String> {
    let mut params = vec!["client: &wix_inbox::Client".to_owned()];
    let mut calls = String::new();
    for (setter, ty) in setters {
        // `types::X` and `crate::X` as a user of the crate writes them.
        let ty = ty.to_token_stream().to_string().replace(' ', "");
        let ty = ty
            .strip_prefix("crate::")
            .map_or(ty.clone(), |rest| format!("wix_inbox::{rest}"));
        let ty = if ty.starts_with("types::") {
            format!("wix_inbox::{ty}")
        } else {
            ty
        };
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
    let methods = methods(items, "Client").filter(|f| f.sig.ident == op.method);
    for attr in methods.flat_map(|f| &mut f.attrs) {
        let syn::Meta::NameValue(syn::MetaNameValue {
            value: syn::Expr::Lit(doc),
            ..
        }) = &mut attr.meta
        else {
            continue;
        };
        let syn::Lit::Str(text) = &doc.lit else {
            continue;
        };
        if let Some((before, _)) = text.value().split_once("```ignore") {
            doc.lit = syn::LitStr::new(&format!("{before}{example}"), text.span()).into();
            return Ok(());
        }
    }
    Err(missing(
        "compiled_example",
        format!("```ignore example on `Client::{}`", op.method),
    ))
}

/// typify's struct builders (`types::builder::X`, made by `X::builder()`) have no docs, so
/// rustdoc shows `X::builder() -> X` and `From<X> for X`: they say what they are.
fn documented_builders(types: &mut [Item]) -> Result<(), String> {
    for item in types.iter_mut() {
        let Item::Impl(block) = item else { continue };
        for item in &mut block.items {
            match item {
                ImplItem::Fn(f) if f.sig.ident == "builder" => f.attrs.push(doc(
                    "A [builder](builder) of this type, to set its fields one by one.",
                )),
                _ => {}
            }
        }
    }
    let mut count = 0;
    for item in module(types, "builder")? {
        let (attrs, text) = match item {
            Item::Struct(s) => (
                &mut s.attrs,
                format!(
                "A builder of [`{0}`](super::{0}), from [`{0}::builder()`](super::{0}::builder) or \
                 from a value (`From`): each method sets a field, and `try_into()` makes the \
                 `{0}`, failing on a field given a wrong value or a required field left unset.",
                s.ident
            ),
            ),
            Item::Impl(i) => match i.trait_.as_ref().and_then(|t| path_ident(&t.1)) {
                Some(t) if t == "TryFrom" => (
                    &mut i.attrs,
                    "Makes the value, checking the builder's fields.".into(),
                ),
                Some(t) if t == "From" => (
                    &mut i.attrs,
                    "A builder holding the fields of a value.".into(),
                ),
                _ => continue,
            },
            _ => continue,
        };
        attrs.push(doc(&text));
        count += 1;
    }
    found("documented_builders", "builder struct", count > 0)
}

/// progenitor's root `builder` module (the operations' request builders) shares its name with
/// `types::builder`, and `Client::new` takes the crate's transport, which only `Client::builder()`
/// makes: the module says what it is, and the constructors are hidden.
fn hidden_constructors(file: &mut syn::File) -> Result<(), String> {
    let module = file.items.iter_mut().find_map(|item| match item {
        Item::Mod(m) if m.ident == "builder" => Some(&mut m.attrs),
        _ => None,
    });
    module.ok_or_else(|| missing("hidden_constructors", "`mod builder`"))?.extend([
        doc(""),
        doc("Each is the request of one operation, made by its method on [`Client`](super::Client): set its parameters, then `send()` it. Not to be confused with [`types::builder`](super::types::builder), builders of the spec's types, nor with [`Client::builder()`](super::Client::builder), which configures the client."),
    ]);
    let constructors = methods(&mut file.items, "Client")
        .filter(|f| f.sig.ident == "new" || f.sig.ident == "new_with_client");
    let hidden = constructors
        .map(|f| f.attrs.push(code!(#[doc(hidden)])))
        .count();
    found(
        "hidden_constructors",
        "`Client::new` and `Client::new_with_client`",
        hidden == 2,
    )
}
