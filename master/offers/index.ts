// The public face of master/offers/.
export { OfferBook } from './offer-book.js';
export type { Offer } from './offer-book.js';
