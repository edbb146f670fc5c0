//! Generates the Wix Inbox client from `openapi/inbox-v2.yaml`.
//!
//! The spec is the only place a wire type is defined. This script:
//! 1. parses the spec (a broken spec stops the build with one message naming the file);
//! 2. turns every string enum of `components/schemas` into an *open* enum — known values typed,
//!    any other value kept verbatim — and hands it to progenitor as a replacement, because typify
//!    emits closed enums that would reject a value Wix adds tomorrow;
//! 3. maps `integer/int32` to `crate::wire::Int32`, which also accepts `1200.0` and `"1200"`
//!    (typify keeps its own `NonZeroU32` for an int32 with `minimum: 1`, such as `paging.limit`),
//!    the schema `ActionEventBody` to `crate::wire::RawJson`, raw JSON text decoded later, and
//!    `string/password` to `crate::wire::Secret`, whose `Debug` hides the value;
//! 4. runs progenitor (builder interface, with `crate::client::Transport` as the client's inner
//!    value whose `ClientHooks` carry auth, retries and tracing) and writes the code to
//!    `$OUT_DIR/codegen.rs`, leaving out the undocumented `api-version` header progenitor adds;
//! 5. post-processes that code: every operation's `send()` fails with `crate::Error`, array
//!    fields read `null` as empty, enum values get the docs of `x-enum-descriptions`, each
//!    webhook body type gets its event's names (`x-wix-event`) as constants, path parameters go
//!    through `crate::wire::path_segment`, and the operations' examples become compiled doc
//!    tests.

use std::{env, fs, path::PathBuf, process::exit};

use heck::{ToSnakeCase, ToUpperCamelCase};
use openapiv3::{OpenAPI, ReferenceOr, SchemaKind, StringType, Type};
use proc_macro2::TokenStream;
use progenitor::{GenerationSettings, Generator, HooksMode, InterfaceStyle, TagStyle, TypeImpl};
use quote::{format_ident, quote};

const SPEC: &str = "openapi/inbox-v2.yaml";

fn main() {
    println!("cargo:rerun-if-changed={SPEC}");
    println!("cargo:rerun-if-changed=build.rs");
    if let Err(message) = generate() {
        // One readable line for a person, no backtrace.
        eprintln!("error: {SPEC}: {message}");
        exit(1);
    }
}

fn generate() -> Result<(), String> {
    let text = fs::read_to_string(SPEC).map_err(|e| format!("cannot read the spec: {e}"))?;
    let raw: serde_yaml::Value =
        serde_yaml::from_str(&text).map_err(|e| format!("not valid YAML: {e}"))?;
    reject_inline_enums(&raw, &mut Vec::new())?;
    check_refs(&raw, &raw)?;
    let spec: OpenAPI = serde_yaml::from_value(raw)
        .map_err(|e| format!("not a valid OpenAPI 3.0 document: {e}"))?;

    let enums = open_enums(&spec)?;

    let mut settings = GenerationSettings::default();
    settings
        .with_interface(InterfaceStyle::Builder)
        .with_tag(TagStyle::Merged)
        .with_derive("PartialEq")
        // The production transport (auth, retries, tracing; `src/client.rs`) is the client's
        // inner value and its `ClientHooks` implementation, which must exist.
        .with_inner_type(quote!(crate::client::Transport))
        .with_hooks(HooksMode::Expected);
    for e in &enums {
        settings.with_replacement(
            &e.name,
            format!("crate::types::{}", e.name),
            [TypeImpl::Display, TypeImpl::FromStr].into_iter(),
        );
    }
    // An event body is decoded once its event is known: keep it as raw JSON, not a `Value` tree.
    settings.with_replacement(
        "ActionEventBody",
        "crate::wire::RawJson",
        std::iter::empty(),
    );
    // Secrets (`format: password`) never show in `Debug` output.
    settings.with_conversion(
        schemars::schema::SchemaObject {
            instance_type: Some(schemars::schema::InstanceType::String.into()),
            format: Some("password".to_string()),
            ..Default::default()
        },
        "crate::wire::Secret",
        std::iter::empty(),
    );
    settings.with_conversion(
        schemars::schema::SchemaObject {
            instance_type: Some(schemars::schema::InstanceType::Integer.into()),
            format: Some("int32".to_string()),
            ..Default::default()
        },
        "crate::wire::Int32",
        [TypeImpl::Display, TypeImpl::FromStr].into_iter(),
    );

    // progenitor and typify panic on some malformed input; turn a panic into the one-line error.
    std::panic::set_hook(Box::new(|_| {}));
    let generated = std::panic::catch_unwind(|| Generator::new(&settings).generate_tokens(&spec));
    let _ = std::panic::take_hook();
    let tokens = match generated {
        Ok(Ok(tokens)) => tokens,
        Ok(Err(e)) => return Err(format!("progenitor cannot generate a client from it: {e}")),
        Err(panic) => {
            let why = panic
                .downcast_ref::<String>()
                .map(String::as_str)
                .or_else(|| panic.downcast_ref::<&str>().copied())
                .unwrap_or("unknown cause");
            return Err(format!(
                "progenitor cannot generate a client from it: {why}"
            ));
        }
    };

    let mut file: syn::File = syn::parse2(tokens)
        .map_err(|e| format!("progenitor produced code that does not parse: {e}"))?;
    let enum_items: syn::File = syn::parse2(enums.iter().map(OpenEnum::tokens).collect())
        .map_err(|e| format!("open enum code does not parse: {e}"))?;
    let types = file
        .items
        .iter_mut()
        .find_map(|item| match item {
            syn::Item::Mod(m) if m.ident == "types" => m.content.as_mut(),
            _ => None,
        })
        .ok_or("progenitor output has no `types` module")?;
    types.1.extend(enum_items.items);
    let event_items: syn::File = syn::parse2(webhook_event_names(&spec)?)
        .map_err(|e| format!("webhook event code does not parse: {e}"))?;
    if event_items.items.is_empty() {
        return Err("no schema has `x-wix-event`: the webhook bodies lost their names".into());
    }
    types.1.extend(event_items.items);
    // progenitor sends the spec's `info.version` as an `api-version` header; Wix documents no
    // such header, so the statement that adds it is left out of the generated code.
    let mut dropper = DropApiVersion(0);
    syn::visit_mut::VisitMut::visit_file_mut(&mut dropper, &mut file);
    if dropper.0 == 0 {
        return Err(
            "progenitor no longer adds `api-version` the way build.rs expects: \
                    update DropApiVersion in build.rs"
                .into(),
        );
    }
    // Every operation's `send()` fails with the crate's own `Error`: the generated one is kept,
    // private, as `send_generated`, and `send` converts what it returns.
    let mut sends = ConvertingSend(0);
    syn::visit_mut::VisitMut::visit_file_mut(&mut sends, &mut file);
    if sends.0 != spec.operations().count() {
        return Err(format!(
            "found {} `send` methods for {} operations: update ConvertingSend in build.rs",
            sends.0,
            spec.operations().count()
        ));
    }
    // Path parameters go through the crate's encoder, which refuses "", "." and ".." and
    // escapes everything that could change the path (progenitor's leaves `\` and dots alone).
    let mut segments = PathSegments(0);
    syn::visit_mut::VisitMut::visit_file_mut(&mut segments, &mut file);
    if segments.0 == 0 {
        return Err(
            "progenitor no longer calls `encode_path`: update PathSegments in build.rs".into(),
        );
    }
    // progenitor's examples on the operations are `ignore`d; make them compiled doc tests.
    let examples = compile_examples(&mut file)?;
    if examples != spec.operations().count() {
        return Err(format!(
            "made {examples} of {} operation examples compile: update compile_examples in build.rs",
            spec.operations().count()
        ));
    }
    // An array field reads `null` as empty (serde's `default` covers only a missing field).
    let mut arrays = NullArrays(0);
    syn::visit_mut::VisitMut::visit_file_mut(&mut arrays, &mut file);
    if arrays.0 == 0 {
        return Err(
            "no array field with `#[serde(default)]` found: update NullArrays in build.rs".into(),
        );
    }
    // The operations, for the hand-written layer: the name progenitor gives each method, its
    // summary, and whether sending it twice does nothing twice (a GET, or `x-wix-idempotent`).
    let operations = spec.operations().map(|(_, method, op)| {
        let id = op
            .operation_id
            .as_deref()
            .unwrap_or_default()
            .to_snake_case();
        let summary = op.summary.clone().unwrap_or_else(|| id.clone());
        let repeatable = method.eq_ignore_ascii_case("get")
            || op.extensions.get("x-wix-idempotent") == Some(&serde_json::Value::Bool(true));
        quote!((#id, #summary, #repeatable))
    });
    file.items.push(syn::parse_quote! {
        /// Each operation: `(method name, summary, whether repeating it is harmless)`.
        pub(crate) const OPERATIONS: &[(&str, &str, bool)] = &[#(#operations),*];
    });
    // Generated code documents what the spec documents; it is not held to `missing_docs`.
    for item in &mut file.items {
        if let Some(attrs) = item_attrs(item) {
            attrs.push(syn::parse_quote!(#[allow(missing_docs, unused_mut)]));
        }
    }

    let out = PathBuf::from(env::var("OUT_DIR").map_err(|e| e.to_string())?).join("codegen.rs");
    fs::write(&out, prettyplease::unparse(&file)).map_err(|e| format!("cannot write {out:?}: {e}"))
}

/// Removes every statement that mentions the `api-version` header, counting them.
struct DropApiVersion(usize);

impl syn::visit_mut::VisitMut for DropApiVersion {
    fn visit_block_mut(&mut self, block: &mut syn::Block) {
        let before = block.stmts.len();
        block.stmts.retain(|stmt| {
            !quote::ToTokens::to_token_stream(stmt)
                .to_string()
                .contains("\"api-version\"")
        });
        let removed = before - block.stmts.len();
        self.0 += removed;
        if removed > 0 {
            // The map was sized for that one header; an empty map does not allocate.
            for stmt in &mut block.stmts {
                if let syn::Stmt::Local(syn::Local {
                    init: Some(init), ..
                }) = stmt
                {
                    let text = quote::ToTokens::to_token_stream(&init.expr).to_string();
                    if text.ends_with("HeaderMap :: with_capacity (1usize)") {
                        init.expr = syn::parse_quote!(::reqwest::header::HeaderMap::new());
                    }
                }
            }
        }
        syn::visit_mut::visit_block_mut(self, block);
    }
}

/// Replaces each `encode_path(x)` inside the generated `format!` calls with
/// `crate::wire::path_segment(x)?`, counting them.
struct PathSegments(usize);

impl PathSegments {
    fn rewrite(&mut self, tokens: TokenStream) -> TokenStream {
        use proc_macro2::TokenTree;
        let mut out = Vec::new();
        let mut iter = tokens.into_iter().peekable();
        while let Some(tree) = iter.next() {
            match tree {
                TokenTree::Ident(ident) if ident == "encode_path" => {
                    let Some(TokenTree::Group(args)) = iter.next() else {
                        out.push(TokenTree::Ident(ident));
                        continue;
                    };
                    let args =
                        proc_macro2::Group::new(args.delimiter(), self.rewrite(args.stream()));
                    out.extend(quote!(crate::wire::path_segment #args ?));
                    self.0 += 1;
                }
                TokenTree::Group(group) => {
                    let mut rewritten =
                        proc_macro2::Group::new(group.delimiter(), self.rewrite(group.stream()));
                    rewritten.set_span(group.span());
                    out.push(TokenTree::Group(rewritten));
                }
                other => out.push(other),
            }
        }
        out.into_iter().collect()
    }
}

impl syn::visit_mut::VisitMut for PathSegments {
    fn visit_macro_mut(&mut self, mac: &mut syn::Macro) {
        mac.tokens = self.rewrite(std::mem::take(&mut mac.tokens));
    }
}

/// Renames each builder's `pub async fn send` to a private `send_generated` and adds a `send`
/// that returns `crate::Error` (through `crate::error::convert`), counting them.
struct ConvertingSend(usize);

impl syn::visit_mut::VisitMut for ConvertingSend {
    fn visit_item_impl_mut(&mut self, item: &mut syn::ItemImpl) {
        let mut added = Vec::new();
        for impl_item in &mut item.items {
            let syn::ImplItem::Fn(method) = impl_item else {
                continue;
            };
            if method.sig.ident != "send" || method.sig.asyncness.is_none() {
                continue;
            }
            // `Result<ResponseValue<T>, Error<types::ErrorResponse>>` → `ResponseValue<T>`.
            let syn::ReturnType::Type(_, output) = &method.sig.output else {
                continue;
            };
            let syn::Type::Path(result) = &**output else {
                continue;
            };
            let Some(syn::PathArguments::AngleBracketed(args)) =
                result.path.segments.last().map(|s| &s.arguments)
            else {
                continue;
            };
            let Some(syn::GenericArgument::Type(ok)) = args.args.first().cloned() else {
                continue;
            };
            // The operationId the generated body names (`operation_id: "…"`), for errors raised
            // before the request is sent.
            let body = quote::ToTokens::to_token_stream(&method.block).to_string();
            let Some(operation) = body
                .split("operation_id :")
                .nth(1)
                .and_then(|rest| rest.split('"').nth(1))
                .map(str::to_owned)
            else {
                continue;
            };
            let doc = method
                .attrs
                .iter()
                .filter(|a| a.path().is_ident("doc"))
                .cloned()
                .collect::<Vec<_>>();
            method.sig.ident = syn::Ident::new("send_generated", method.sig.ident.span());
            method.vis = syn::Visibility::Inherited;
            added.push(syn::parse_quote! {
                #(#doc)*
                ///
                /// A failure is a [`crate::Error`]: the status and Wix's request ID, message and
                /// code, and how many attempts were made.
                pub async fn send(self) -> Result<#ok, crate::Error> {
                    crate::error::convert(#operation, self.send_generated()).await
                }
            });
            self.0 += 1;
        }
        item.items.extend(added);
        syn::visit_mut::visit_item_impl_mut(self, item);
    }
}

/// Makes every deserialized `Vec` field with `#[serde(default)]` read `null` as empty too,
/// counting them.
struct NullArrays(usize);

impl syn::visit_mut::VisitMut for NullArrays {
    fn visit_item_struct_mut(&mut self, item: &mut syn::ItemStruct) {
        let text = |attr: &syn::Attribute| quote::ToTokens::to_token_stream(attr).to_string();
        let deserialized = item
            .attrs
            .iter()
            .any(|a| a.path().is_ident("derive") && text(a).contains("Deserialize"));
        if deserialized {
            for field in &mut item.fields {
                let is_vec = matches!(&field.ty, syn::Type::Path(p)
                    if p.path.segments.last().is_some_and(|s| s.ident == "Vec"));
                let defaulted = field
                    .attrs
                    .iter()
                    .any(|a| a.path().is_ident("serde") && text(a).contains("default"));
                if is_vec && defaulted {
                    field.attrs.push(syn::parse_quote!(
                        #[serde(deserialize_with = "crate::wire::null_as_empty")]
                    ));
                    self.0 += 1;
                }
            }
        }
        syn::visit_mut::visit_item_struct_mut(self, item);
    }
}

/// Turns the `ignore`d example progenitor writes on each operation of `Client` into a `no_run`
/// doc test: its arguments become parameters of a hidden function, typed as the builder's
/// setters take them, and the call ends in `?` on the crate's `Error`. Returns how many.
fn compile_examples(file: &mut syn::File) -> Result<usize, String> {
    let tokens = |t: &dyn quote::ToTokens| t.to_token_stream().to_string().replace(' ', "");
    // (builder, setter) → the type its `V: TryInto<T>` names, as the crate's users write it.
    let mut setters = std::collections::HashMap::new();
    for item in &file.items {
        let syn::Item::Mod(module) = item else {
            continue;
        };
        if module.ident != "builder" {
            continue;
        }
        for item in module.content.iter().flat_map(|c| &c.1) {
            let syn::Item::Impl(block) = item else {
                continue;
            };
            let builder = tokens(&block.self_ty);
            let builder = builder.split('<').next().unwrap_or_default().to_owned();
            for impl_item in &block.items {
                let syn::ImplItem::Fn(method) = impl_item else {
                    continue;
                };
                let predicates = method
                    .sig
                    .generics
                    .where_clause
                    .iter()
                    .flat_map(|w| &w.predicates);
                for predicate in predicates {
                    let text = tokens(predicate);
                    if let Some(target) = text
                        .strip_prefix("V:std::convert::TryInto<")
                        .and_then(|t| t.strip_suffix('>'))
                    {
                        let public = match target.strip_prefix("crate::") {
                            Some(rest) => format!("wix_inbox::{rest}"),
                            None if target.starts_with("types::") => format!("wix_inbox::{target}"),
                            None => target.to_owned(),
                        };
                        setters.insert((builder.clone(), method.sig.ident.to_string()), public);
                    }
                }
            }
        }
    }

    let mut made = 0;
    for item in &mut file.items {
        let syn::Item::Impl(block) = item else {
            continue;
        };
        if tokens(&block.self_ty) != "Client" {
            continue;
        }
        for impl_item in &mut block.items {
            let syn::ImplItem::Fn(method) = impl_item else {
                continue;
            };
            let syn::ReturnType::Type(_, output) = &method.sig.output else {
                continue;
            };
            let output = tokens(output);
            let Some(builder) = output
                .strip_prefix("builder::")
                .and_then(|rest| rest.split('<').next())
            else {
                continue;
            };
            for attr in &mut method.attrs {
                let syn::Meta::NameValue(doc) = &mut attr.meta else {
                    continue;
                };
                let syn::Expr::Lit(syn::ExprLit {
                    lit: syn::Lit::Str(text),
                    ..
                }) = &doc.value
                else {
                    continue;
                };
                let text = text.value();
                let Some((before, example)) = text.split_once("```ignore\n") else {
                    continue;
                };
                let Some((example, after)) = example.split_once("\n```") else {
                    continue;
                };
                let mut params = vec!["client: &wix_inbox::Client".to_owned()];
                for line in example.lines() {
                    let Some(call) = line.trim().strip_prefix('.') else {
                        continue;
                    };
                    let Some((setter, _)) = call.split_once('(') else {
                        continue;
                    };
                    if matches!(setter, "send" | "await") || call == "await;" {
                        continue;
                    }
                    let ty = setters
                        .get(&(builder.to_owned(), setter.to_owned()))
                        .ok_or(format!("no setter `{setter}` on builder::{builder}"))?;
                    params.push(format!("{setter}: {ty}"));
                }
                let body = example.replace(".await;", ".await?;");
                let compiled = format!(
                    "{before}```no_run\n# async fn example({}) -> Result<(), wix_inbox::Error> {{\n\
                     {body}\n# let _ = response;\n# Ok(())\n# }}\n```{after}",
                    params.join(", ")
                );
                doc.value = syn::parse_quote!(#compiled);
                made += 1;
            }
        }
    }
    Ok(made)
}

fn item_attrs(item: &mut syn::Item) -> Option<&mut Vec<syn::Attribute>> {
    match item {
        syn::Item::Mod(i) => Some(&mut i.attrs),
        syn::Item::Struct(i) => Some(&mut i.attrs),
        syn::Item::Impl(i) => Some(&mut i.attrs),
        syn::Item::Enum(i) => Some(&mut i.attrs),
        syn::Item::Trait(i) => Some(&mut i.attrs),
        _ => None,
    }
}

/// typify makes a closed Rust enum of an inline `enum`; only component enums are made open, so an
/// inline one would silently be closed. Refuse it and say where it is.
fn reject_inline_enums(value: &serde_yaml::Value, path: &mut Vec<String>) -> Result<(), String> {
    match value {
        serde_yaml::Value::Mapping(map) => {
            for (k, v) in map {
                let key = k.as_str().unwrap_or("?").to_string();
                let is_component =
                    path.len() == 3 && path[0] == "components" && path[1] == "schemas";
                if key == "enum" && !is_component {
                    return Err(format!(
                        "an inline `enum` at {}: declare it under components/schemas and $ref it, \
                         so that it is generated as an open enum",
                        path.join("/")
                    ));
                }
                path.push(key);
                reject_inline_enums(v, path)?;
                path.pop();
            }
            Ok(())
        }
        serde_yaml::Value::Sequence(seq) => {
            for (i, v) in seq.iter().enumerate() {
                path.push(i.to_string());
                reject_inline_enums(v, path)?;
                path.pop();
            }
            Ok(())
        }
        _ => Ok(()),
    }
}

/// Every local `$ref` must point at something; typify would panic on a dangling one.
fn check_refs(node: &serde_yaml::Value, root: &serde_yaml::Value) -> Result<(), String> {
    match node {
        serde_yaml::Value::Mapping(map) => {
            for (k, v) in map {
                if k.as_str() == Some("$ref") {
                    let target = v.as_str().ok_or("a `$ref` that is not a string")?;
                    let pointer = target
                        .strip_prefix('#')
                        .ok_or(format!("`$ref: {target}` is not local to the document"))?;
                    pointer.split('/').skip(1).try_fold(root, |at, part| {
                        at.get(part)
                            .ok_or(format!("`$ref: {target}` does not resolve"))
                    })?;
                } else {
                    check_refs(v, root)?;
                }
            }
            Ok(())
        }
        serde_yaml::Value::Sequence(seq) => seq.iter().try_for_each(|v| check_refs(v, root)),
        _ => Ok(()),
    }
}

/// The names of each webhook body schema's event (`x-wix-event: {entityFqdn, slug}`), as
/// associated constants of its generated type; the webhook decoder and the fake use them.
fn webhook_event_names(spec: &OpenAPI) -> Result<TokenStream, String> {
    let mut out = TokenStream::new();
    let Some(components) = &spec.components else {
        return Ok(out);
    };
    for (name, schema) in &components.schemas {
        let ReferenceOr::Item(schema) = schema else {
            continue;
        };
        let Some(event) = schema.schema_data.extensions.get("x-wix-event") else {
            continue;
        };
        let field = |key: &str| {
            event
                .get(key)
                .and_then(serde_json::Value::as_str)
                .filter(|text| !text.is_empty())
                .map(str::to_owned)
                .ok_or(format!("schema {name}: x-wix-event needs a text `{key}`"))
        };
        let (fqdn, slug) = (field("entityFqdn")?, field("slug")?);
        let event_type = format!("{fqdn}_{slug}");
        let ident = format_ident!("{}", name);
        out.extend(quote! {
            impl #ident {
                /// `entityFqdn` of the webhook event whose body this is.
                pub const ENTITY_FQDN: &'static str = #fqdn;
                /// `slug` of the webhook event whose body this is.
                pub const SLUG: &'static str = #slug;
                /// `eventType` of the webhook event whose body this is: `entityFqdn` and `slug`
                /// joined by `_`.
                pub const EVENT_TYPE: &'static str = #event_type;
            }
        });
    }
    Ok(out)
}

/// A string enum of the spec, to be generated as an open enum.
struct OpenEnum {
    name: String,
    description: String,
    values: Vec<String>,
    /// What each value means, from the schema's `x-enum-descriptions` (value → text), if any.
    value_docs: Vec<Option<String>>,
}

fn open_enums(spec: &OpenAPI) -> Result<Vec<OpenEnum>, String> {
    let mut out = Vec::new();
    let Some(components) = &spec.components else {
        return Ok(out);
    };
    for (name, schema) in &components.schemas {
        let ReferenceOr::Item(schema) = schema else {
            continue;
        };
        let SchemaKind::Type(Type::String(StringType { enumeration, .. })) = &schema.schema_kind
        else {
            continue;
        };
        if enumeration.is_empty() {
            continue;
        }
        let values = enumeration
            .iter()
            .map(|v| v.clone().ok_or(format!("schema {name}: `null` in an enum")))
            .collect::<Result<Vec<_>, _>>()?;
        let described = match schema.schema_data.extensions.get("x-enum-descriptions") {
            None => serde_json::Map::new(),
            Some(serde_json::Value::Object(map)) => map.clone(),
            Some(_) => return Err(format!("schema {name}: x-enum-descriptions is not a map")),
        };
        if let Some(stray) = described.keys().find(|k| !values.contains(k)) {
            return Err(format!(
                "schema {name}: x-enum-descriptions describes `{stray}`, which is not in its enum"
            ));
        }
        let value_docs = values
            .iter()
            .map(|v| match described.get(v) {
                None => Ok(None),
                Some(serde_json::Value::String(text)) => Ok(Some(text.clone())),
                Some(_) => Err(format!(
                    "schema {name}: x-enum-descriptions.{v} is not text"
                )),
            })
            .collect::<Result<Vec<_>, _>>()?;
        out.push(OpenEnum {
            name: name.clone(),
            description: schema.schema_data.description.clone().unwrap_or_default(),
            values,
            value_docs,
        });
    }
    Ok(out)
}

impl OpenEnum {
    fn tokens(&self) -> TokenStream {
        let name = format_ident!("{}", self.name);
        let other = format_ident!("{}Other", self.name);
        let variants: Vec<_> = self
            .values
            .iter()
            .map(|v| format_ident!("{}", v.to_upper_camel_case()))
            .collect();
        let values = &self.values;
        let variant_docs = values
            .iter()
            .zip(&self.value_docs)
            .map(|(v, doc)| match doc {
                Some(doc) => format!("`{v}`: {doc}"),
                None => format!("`{v}`"),
            });
        let doc = format!(
            "{}\n\nAn open enum: a value this version of the crate does not know (Wix adds values \
             over time) deserializes to [`{}::Other`] and serializes back exactly as it came. It is \
             `#[non_exhaustive]`: a value the spec adds later becomes a variant without breaking \
             a `match`.",
            self.description, self.name
        );
        let other_doc = format!(
            "A value of [`{}`] this crate does not know, kept verbatim.",
            self.name
        );
        quote! {
            #[doc = #doc]
            #[derive(Clone, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
            #[non_exhaustive]
            pub enum #name {
                #( #[doc = #variant_docs] #variants, )*
                /// A value the spec did not list when this crate was generated.
                Other(#other),
            }

            #[doc = #other_doc]
            #[derive(Clone, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
            pub struct #other(String);

            impl #other {
                /// The value as it came over the wire.
                pub fn as_str(&self) -> &str {
                    &self.0
                }
            }

            impl #name {
                /// Every value the spec lists, in its order.
                pub const KNOWN: &'static [&'static str] = &[#(#values),*];

                /// The value as it goes over the wire.
                pub fn as_str(&self) -> &str {
                    match self {
                        #( Self::#variants => #values, )*
                        Self::Other(other) => &other.0,
                    }
                }

                /// Whether this is a value the spec lists.
                pub fn is_known(&self) -> bool {
                    !matches!(self, Self::Other(_))
                }
            }

            impl ::std::convert::From<&str> for #name {
                fn from(value: &str) -> Self {
                    match value {
                        #( #values => Self::#variants, )*
                        other => Self::Other(#other(other.to_string())),
                    }
                }
            }

            impl ::std::convert::From<String> for #name {
                fn from(value: String) -> Self {
                    match value.as_str() {
                        #( #values => Self::#variants, )*
                        _ => Self::Other(#other(value)),
                    }
                }
            }

            impl ::std::str::FromStr for #name {
                type Err = ::std::convert::Infallible;
                fn from_str(value: &str) -> Result<Self, Self::Err> {
                    Ok(Self::from(value))
                }
            }

            impl ::std::fmt::Display for #name {
                fn fmt(&self, f: &mut ::std::fmt::Formatter<'_>) -> ::std::fmt::Result {
                    f.write_str(self.as_str())
                }
            }

            impl ::serde::Serialize for #name {
                fn serialize<S: ::serde::Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
                    serializer.serialize_str(self.as_str())
                }
            }

            impl<'de> ::serde::Deserialize<'de> for #name {
                fn deserialize<D: ::serde::Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
                    deserializer.deserialize_str(crate::wire::OpenEnumVisitor::<Self>::new(stringify!(#name)))
                }
            }
        }
    }
}
