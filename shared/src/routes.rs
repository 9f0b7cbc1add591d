//! Where a service's HTTP routes go: into the server, or into a list of (method, path). Each
//! service declares its routes once, through [`Routes`], so the list the API document is
//! checked against (a test) is the list the server serves: a route added without being
//! documented fails that test.

use actix_web::http::Method;
use actix_web::middleware::Compress;
use actix_web::{FromRequest, Handler, Responder, Route, web};

pub enum Routes<'a> {
    /// Registers each route on a server.
    Serve(&'a mut web::ServiceConfig),
    /// Only lists them.
    List(&'a mut Vec<(Method, String)>),
}

impl Routes<'_> {
    pub fn route<F, Args>(&mut self, method: Method, path: &str, handler: F) -> &mut Self
    where
        F: Handler<Args>,
        Args: FromRequest + 'static,
        F::Output: Responder + 'static,
    {
        self.add(method.clone(), path, || web::method(method).to(handler))
    }

    pub fn get<F, Args>(&mut self, path: &str, handler: F) -> &mut Self
    where
        F: Handler<Args>,
        Args: FromRequest + 'static,
        F::Output: Responder + 'static,
    {
        self.route(Method::GET, path, handler)
    }

    /// A GET route whose answers are gzipped for clients that accept gzip, as Scope gzips its
    /// API's GET answers (all but the websocket). A browser's first load of a large view is
    /// megabytes of repetitive JSON; clients that do not ask (probes, load tests) get it as is.
    pub fn get_gzipped<F, Args>(&mut self, path: &str, handler: F) -> &mut Self
    where
        F: Handler<Args>,
        Args: FromRequest + 'static,
        F::Output: Responder + 'static,
    {
        self.add(Method::GET, path, || {
            web::get().to(handler).wrap(Compress::default())
        })
    }

    pub fn post<F, Args>(&mut self, path: &str, handler: F) -> &mut Self
    where
        F: Handler<Args>,
        Args: FromRequest + 'static,
        F::Output: Responder + 'static,
    {
        self.route(Method::POST, path, handler)
    }

    /// Registers the route `make` builds, or lists (method, path): the route is only built
    /// when served.
    fn add(&mut self, method: Method, path: &str, make: impl FnOnce() -> Route) -> &mut Self {
        match self {
            Routes::Serve(cfg) => {
                cfg.route(path, make());
            }
            Routes::List(list) => list.push((method, path.to_owned())),
        }
        self
    }
}

/// The routes `declare` registers, as (method, path template) pairs.
pub fn list(declare: impl FnOnce(&mut Routes)) -> Vec<(Method, String)> {
    let mut list = Vec::new();
    declare(&mut Routes::List(&mut list));
    list
}
